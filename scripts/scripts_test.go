// Package scripts has no code: its tests run the shell scripts that set a machine up
// (scripts/deps.sh, tools/reuse.sh) against fake programs on a PATH of their own, so they
// behave the same on a bare laptop and on a CI machine where everything is installed.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fake writes an executable /bin/sh script NAME into dir.
func fake(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	return path
}

// utils is a directory holding only links to the named programs from the real PATH, so a
// test's PATH has them and nothing else (no etcd, no temporal).
func utils(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		p, err := exec.LookPath(n)
		require.NoError(t, err, "the test needs %s on PATH", n)
		require.NoError(t, os.Symlink(p, filepath.Join(dir, n)))
	}
	return dir
}

// run runs script with bash and env (plus PATH=path), returning its combined output and
// exit code.
func run(t *testing.T, path string, env []string, script string, args ...string) (string, int) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	require.NoError(t, err)
	cmd := exec.Command(bash, append([]string{script}, args...)...)
	cmd.Env = append([]string{"PATH=" + path, "HOME=" + t.TempDir()}, env...)
	out, err := cmd.CombinedOutput()
	if exitErr, ok := err.(*exec.ExitError); ok {
		return string(out), exitErr.ExitCode()
	}
	require.NoError(t, err, "%s", out)
	return string(out), 0
}

func pathOf(dirs ...string) string { return strings.Join(dirs, string(os.PathListSeparator)) }

func abs(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(rel)
	require.NoError(t, err)
	return p
}

// TestMakefileGuardsEveryBuild checks that each pinned tool's recipe asks tools/reuse.sh
// first, with a version read from its pin, and that the targets which start the local stack
// or run the tests depend on deps.
func TestMakefileGuardsEveryBuild(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make is not on PATH: scripts/deps.sh installs it (apt-get install -y make)")
	}
	bin := t.TempDir()
	cmd := exec.Command("make", "-n", "BIN="+bin, "tools")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "MAKEFLAGS=", "MAKELEVEL=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, name := range []string{"temporal", "helm", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "argocd"} {
		re := regexp.MustCompile(`(?m)reuse\.sh ` + name + ` v?[0-9]+\.[0-9]+\.[0-9]+ ` + regexp.QuoteMeta(filepath.Join(bin, name)) + ` \|\| `)
		require.Regexp(t, re, string(out), "the recipe of bin/%s does not try tools/reuse.sh before building", name)
	}

	makefile, err := os.ReadFile("../Makefile")
	require.NoError(t, err)
	for _, target := range []string{"demo", "sandbox", "sandbox-up", "test", "test-chart"} {
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `:[^\n=]*\bdeps\b`)
		require.Regexp(t, re, string(makefile), "make %s does not depend on deps", target)
	}
}
