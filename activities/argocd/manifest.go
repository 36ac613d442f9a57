package argocd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/alexpermiakov/idp/internal/config"
)

// argoModule is the Go module of Argo CD (its settings code checks idp's in tests); its source tree carries the
// official install manifest of the same version.
const argoModule = "github.com/argoproj/argo-cd/v2"

// ModuleManifest returns the path of manifests/install.yaml inside the argo-cd Go module in
// the module cache: the sandbox and tests install from it instead of the release URL.
func ModuleManifest() (string, error) {
	version := config.DefaultArgoCDVersion
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == argoModule {
				version = d.Version
			}
		}
	}
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			return "", fmt.Errorf("finding the Go module cache (go env GOMODCACHE): %w", err)
		}
		cache = strings.TrimSpace(string(out))
	}
	p := filepath.Join(cache, "github.com", "argoproj", "argo-cd", "v2@"+version, "manifests", "install.yaml")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s is missing: run `go mod download %s@%s`: %w", p, argoModule, version, err)
	}
	return p, nil
}
