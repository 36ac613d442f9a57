package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// machine is a fake machine for scripts/deps.sh: a directory of fake programs (every one it
// looks for unless left out, terraform printing terraformVersion, an apt-get that logs its
// arguments and "installs" fake etcd and redis-server there, a sudo that just runs the
// command) plus env, the one real program deps.sh runs itself.
type machine struct {
	bin, apt string
	path     string
}

func newMachine(t *testing.T, terraformVersion string, without ...string) machine {
	t.Helper()
	m := machine{bin: t.TempDir()}
	m.apt = filepath.Join(t.TempDir(), "apt.log")
	m.path = pathOf(m.bin, utils(t, "env"))
	skip := map[string]bool{}
	for _, w := range without {
		skip[w] = true
	}
	for _, name := range []string{"git", "make", "etcd", "redis-server", "ssh-keygen", "go"} {
		if !skip[name] {
			fake(t, m.bin, name, "exit 0")
		}
	}
	if !skip["terraform"] {
		fake(t, m.bin, "terraform", "echo 'Terraform "+terraformVersion+"'; echo 'on linux_amd64'")
	}
	chmod, err := exec.LookPath("chmod")
	require.NoError(t, err)
	fake(t, m.bin, "apt-get", `echo "$*" >>`+m.apt+`
case "$*" in *install*)
  for c in etcd redis-server; do printf '#!/bin/sh\n' >`+m.bin+`/$c; `+chmod+` 755 `+m.bin+`/$c; done ;;
esac`)
	fake(t, m.bin, "sudo", `[ "$1" = -n ] && shift; "$@"`)
	return m
}

func (m machine) aptLog(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(m.apt)
	if os.IsNotExist(err) {
		return ""
	}
	require.NoError(t, err)
	return string(b)
}

func TestDepsCheckNamesTheExactCommand(t *testing.T) {
	m := newMachine(t, "v1.11.4", "etcd")
	out, code := run(t, m.path, nil, abs(t, "deps.sh"), "--check")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "etcd (etcd-server)")
	sudo := "sudo "
	if os.Geteuid() == 0 {
		sudo = ""
	}
	require.Contains(t, out, "\n  "+sudo+"apt-get update && "+sudo+"apt-get install -y etcd-server\n")
	require.NotContains(t, out, "redis-server")
	require.Empty(t, m.aptLog(t), "--check ran apt-get")
}

func TestDepsCheckPassesWhenEverythingIsThere(t *testing.T) {
	m := newMachine(t, "v1.10.0")
	out, code := run(t, m.path, nil, abs(t, "deps.sh"), "--check")
	require.Equal(t, 0, code, out)
	require.Empty(t, out)
}

func TestDepsInstallsMissingPackages(t *testing.T) {
	m := newMachine(t, "v1.11.4", "etcd", "redis-server")
	out, code := run(t, m.path, nil, abs(t, "deps.sh"))
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "deps: installing etcd-server redis-server with apt-get")
	require.Equal(t, "update -qq\ninstall -y -qq etcd-server redis-server\n", m.aptLog(t))
	require.FileExists(t, filepath.Join(m.bin, "etcd"))
}

func TestDepsTerraformIsOnlyChecked(t *testing.T) {
	for _, c := range []struct {
		version string
		without []string
		says    string
	}{
		{"v1.9.8", nil, "terraform is v1.9.8, idp needs >= 1.10"},
		{"", []string{"terraform"}, "terraform is not installed"},
	} {
		m := newMachine(t, c.version, c.without...)
		out, code := run(t, m.path, nil, abs(t, "deps.sh"))
		require.Equal(t, 1, code, out)
		require.Contains(t, out, c.says)
		require.Contains(t, out, "https://developer.hashicorp.com/terraform/install")
		require.Empty(t, m.aptLog(t), "apt-get ran although no Debian package was missing")
	}
}

func TestDepsWithoutGo(t *testing.T) {
	m := newMachine(t, "v1.11.4", "go")
	out, code := run(t, m.path, nil, abs(t, "deps.sh"), "--check")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "Go is not installed")
	require.Contains(t, out, "https://go.dev/dl/")
}
