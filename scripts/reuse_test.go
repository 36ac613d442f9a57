package scripts

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// reuseUtils are the programs tools/reuse.sh runs besides the tool it checks.
var reuseUtils = []string{"readlink", "ln", "mkdir", "dirname", "head", "timeout"}

func TestReuseLinksAMatchingBinary(t *testing.T) {
	cases := []struct {
		name, want, prints string
	}{
		{"temporal", "v1.5.1", "temporal version 1.5.1 (Server 1.29.1, UI 2.42.1)"},
		{"helm", "v3.19.5", "v3.19.5+g7d1ad1f"},
		{"kube-apiserver", "v1.34.2", "Kubernetes v1.34.2"},
		{"kube-scheduler", "v1.34.2", "Kubernetes v1.34.2"},
		{"kwok", "v0.8.0", "kwok version v0.8.0 go1.26.8 (linux/amd64)"},
		{"argocd", "2.14.21", "argocd: v2.14.21+8f5c2b1"},
	}
	u := utils(t, reuseUtils...)
	script := abs(t, "../tools/reuse.sh")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			found := t.TempDir()
			tool := fake(t, found, c.name, "echo '"+c.prints+"'")
			dest := filepath.Join(t.TempDir(), "bin", c.name)

			out, code := run(t, pathOf(found, u), nil, script, c.name, c.want, dest)
			require.Equal(t, 0, code, out)
			require.Contains(t, out, "linked as "+dest)
			target, err := os.Readlink(dest)
			require.NoError(t, err, "bin/%s is not a symlink", c.name)
			require.Equal(t, tool, target)
		})
	}
}

func TestReuseRefusesAnotherVersion(t *testing.T) {
	u := utils(t, reuseUtils...)
	script := abs(t, "../tools/reuse.sh")
	found := t.TempDir()
	tool := fake(t, found, "temporal", "echo 'temporal version 1.4.0 (Server 1.28.0, UI 2.40.0)'")
	dest := filepath.Join(t.TempDir(), "temporal")

	out, code := run(t, pathOf(found, u), nil, script, "temporal", "v1.5.1", dest)
	require.Equal(t, 1, code, out)
	require.Equal(t, "tools: temporal at "+tool+" is 1.4.0, not the pinned 1.5.1: not reused\n", out)
	require.NoFileExists(t, dest)
}

// A go-installed Temporal CLI says 0.0.0-DEV: the module version go version -m reads decides.
func TestReuseReadsGoBuildInfo(t *testing.T) {
	u := utils(t, reuseUtils...)
	script := abs(t, "../tools/reuse.sh")
	for _, c := range []struct {
		mod    string
		linked bool
	}{{"v1.5.1", true}, {"v1.5.0", false}} {
		found := t.TempDir()
		tool := fake(t, found, "temporal", "echo 'temporal version 0.0.0-DEV (Server 1.29.1, UI 2.42.1)'")
		fake(t, found, "go", `[ "$1 $2" = "version -m" ] || exit 2
printf '%s: go1.26.8\n\tpath\tgithub.com/temporalio/cli/cmd/temporal\n\tmod\tgithub.com/temporalio/cli\t`+c.mod+`\th1:x=\n' "$3"`)
		dest := filepath.Join(t.TempDir(), "temporal")

		out, code := run(t, pathOf(found, u), nil, script, "temporal", "v1.5.1", dest)
		if !c.linked {
			require.Equal(t, 1, code, out)
			require.Contains(t, out, "is 1.5.0, not the pinned 1.5.1")
			require.NoFileExists(t, dest)
			continue
		}
		require.Equal(t, 0, code, out)
		target, err := os.Readlink(dest)
		require.NoError(t, err)
		require.Equal(t, tool, target)
	}
}

// The first match on PATH wins, mismatches before it are noted, and ./bin itself (first on
// make's PATH) is never a candidate.
func TestReuseSkipsMismatchesAndItsOwnDirectory(t *testing.T) {
	u := utils(t, reuseUtils...)
	script := abs(t, "../tools/reuse.sh")
	bin, old, good := t.TempDir(), t.TempDir(), t.TempDir()
	fake(t, bin, "helm", "echo v3.19.5")
	fake(t, old, "helm", "echo v3.18.0+gabc")
	tool := fake(t, good, "helm", "echo v3.19.5+gdef")
	dest := filepath.Join(bin, "helm-new")

	// the name checked is helm; dest's directory holds a matching helm that must be skipped
	out, code := run(t, pathOf(bin, old, good, u), nil, script, "helm", "v3.19.5", dest)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "tools: helm at "+filepath.Join(old, "helm")+" is 3.18.0, not the pinned 3.19.5: not reused\n")
	target, err := os.Readlink(dest)
	require.NoError(t, err)
	require.Equal(t, tool, target)
}

func TestReuseCanBeTurnedOff(t *testing.T) {
	u := utils(t, reuseUtils...)
	script := abs(t, "../tools/reuse.sh")
	found := t.TempDir()
	fake(t, found, "kwok", "echo 'kwok version v0.8.0'")
	dest := filepath.Join(t.TempDir(), "kwok")

	out, code := run(t, pathOf(found, u), []string{"IDP_REUSE_TOOLS=0"}, script, "kwok", "v0.8.0", dest)
	require.Equal(t, 1, code, out)
	require.NoFileExists(t, dest)
}
