package stack

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// upstreamURL is the platform repository's real URL, which Argo CD Applications name.
const upstreamURL = "https://github.com/alexpermiakov/idp.git"

// sandboxValues are the sandbox's own settings in the platform content: a short rollout
// deadline, so a broken image turns Degraded in seconds rather than ten minutes.
var sandboxValues = map[string][2]string{
	"helm-charts/standard-service/values.yaml": {"progressDeadlineSeconds: 600", "progressDeadlineSeconds: 30"},
}

// seededDirs are the parts of the checkout the platform repository holds.
var seededDirs = []string{"infra", "argocd", "helm-charts"}

// SeedRepository creates a bare Git repository in dir holding a copy of root's platform
// content on branch main, with Argo CD pointed at it instead of GitHub, and returns its URL.
func SeedRepository(ctx context.Context, root, dir string) (string, error) {
	return seedRepository(ctx, root, dir, nil)
}

// seedRepository is SeedRepository with generated services' Applications added.
func seedRepository(ctx context.Context, root, dir string, generated []string) (string, error) {
	bare := filepath.Join(dir, "idp.git")
	work := filepath.Join(dir, "seed")
	url := "file://" + bare
	if err := git(ctx, "", "init", "--quiet", "--bare", "--initial-branch=main", bare); err != nil {
		return "", err
	}
	if err := git(ctx, "", "init", "--quiet", "--initial-branch=main", work); err != nil {
		return "", err
	}
	for _, d := range seededDirs {
		if err := copyContent(filepath.Join(root, d), filepath.Join(work, d), url); err != nil {
			return "", fmt.Errorf("copying %s into the sandbox repository: %w", d, err)
		}
	}
	for path, repl := range sandboxValues {
		p := filepath.Join(work, path)
		b, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		if !strings.Contains(string(b), repl[0]) {
			return "", fmt.Errorf("%s no longer has %q for the sandbox to shorten", path, repl[0])
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), repl[0], repl[1], 1)), 0o644); err != nil {
			return "", err
		}
	}
	if err := writeGenerated(work, generated); err != nil {
		return "", err
	}
	steps := [][]string{
		{"add", "-A"},
		{"-c", "user.name=idp sandbox", "-c", "user.email=sandbox@idp.local", "commit", "--quiet", "-m", "Seed the platform repository from the idp checkout"},
		{"push", "--quiet", url, "main"},
	}
	for _, args := range steps {
		if err := git(ctx, work, args...); err != nil {
			return "", err
		}
	}
	return url, os.RemoveAll(work)
}

func git(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// copyContent copies src to dst, leaving out terraform's local state, and points Argo CD
// manifests at the sandbox's repository.
func copyContent(src, dst, repoURL string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		name := d.Name()
		if d.IsDir() {
			if name == ".terraform" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() || name == ".terraform.lock.hcl" || strings.HasSuffix(name, ".tfstate") || strings.HasSuffix(name, ".tfplan") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.HasSuffix(name, ".yaml") {
			b = []byte(strings.ReplaceAll(string(b), upstreamURL, repoURL))
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}
