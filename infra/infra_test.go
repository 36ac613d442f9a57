// Package infra_test checks the Terraform under infra/ with the real terraform: formatting,
// validation of every root and module, and `terraform test` of infra/entry per environment
// with a mocked AWS provider covering every resource.
package infra_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/terraform"
	"github.com/alexpermiakov/idp/internal/config"
)

// tf runs terraform in dir with idp's own CLI configuration (providers from the mirror only).
func tf(t *testing.T, dir, dataDir string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Fatal("terraform is not on PATH: install terraform >= 1.10 (CI installs it in .ci/run)")
	}
	if terraform.ProviderMirror(config.Terraform{}) == "" {
		t.Fatal("no terraform provider mirror found: set IDP_TF_PROVIDER_MIRROR to a filesystem mirror holding hashicorp/aws 5.100.0")
	}
	rc, err := terraform.WriteCLIConfig(config.Terraform{PluginCache: filepath.Join(os.TempDir(), "idp-test-plugin-cache")}, t.TempDir())
	require.NoError(t, err)
	cmd := exec.Command("terraform", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "TF_DATA_DIR="+dataDir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "terraform %s in %s:\n%s", strings.Join(args, " "), dir, out)
	return string(out)
}

// scratch copies infra/ so that terraform's lock files stay out of the source tree.
func scratch(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(".")))
	return dir
}

func TestFormatted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform; not part of -short")
	}
	tf(t, ".", t.TempDir(), "fmt", "-check", "-recursive", "-diff")
}

func TestValidate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform; not part of -short")
	}
	root := scratch(t)
	roots, err := filepath.Glob("modules/*")
	require.NoError(t, err)
	roots = append(roots, "entry", "tooling")
	for _, rel := range roots {
		dir := filepath.Join(root, rel)
		t.Run(rel, func(t *testing.T) {
			data := t.TempDir()
			tf(t, dir, data, "init", "-backend=false", "-input=false")
			require.Contains(t, tf(t, dir, data, "validate"), "Success")
		})
	}
}

func TestEntryWithMockedProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform test; not part of -short")
	}
	data, entry := t.TempDir(), filepath.Join(scratch(t), "entry")
	tf(t, entry, data, "init", "-backend=false", "-input=false")
	out := tf(t, entry, data, "test")
	require.Contains(t, out, "Success!")
	for _, env := range []string{"dev", "staging", "prod"} {
		t.Run(env, func(t *testing.T) {
			out := tf(t, entry, data, "test", "-test-directory=tests/"+env, "-var-file=env/"+env+".tfvars")
			require.Contains(t, out, "Success!")
			require.NotContains(t, out, "0 passed")
		})
	}
}

// TestToolingRepositoriesAreImmutable: the tooling account's ECR repositories refuse a pushed-over
// tag, and its ECR push events reach the worker when switched on, checked with a mocked provider.
func TestToolingRepositoriesAreImmutable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform test; not part of -short")
	}
	data, tooling := t.TempDir(), filepath.Join(scratch(t), "tooling")
	tf(t, tooling, data, "init", "-backend=false", "-input=false")
	out := tf(t, tooling, data, "test", "-no-color")
	require.Contains(t, out, "Success! 5 passed, 0 failed.")
	for _, run := range []string{"repositories_are_immutable", "off_by_default", "pushes_go_to_the_worker", "an_http_endpoint_is_refused", "a_short_secret_is_refused"} {
		require.Contains(t, out, `run "`+run+`"... pass`)
	}
}
