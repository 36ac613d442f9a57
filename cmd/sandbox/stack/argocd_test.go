package stack

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeArgoEnv makes this test binary a stand-in for an Argo CD process (see TestMain).
const fakeArgoEnv = "IDP_TEST_FAKE_ARGOCD"

func TestMain(m *testing.M) {
	if os.Getenv(fakeArgoEnv) != "" {
		os.Exit(fakeArgoCD(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeArgoCD listens on --port and --metrics-port as the repo-server and the controller do.
// The first controller to run (no marker file in $TMPDIR's parent) finds its metrics port
// taken, as a controller does when a client connection took it first, and exits the way
// Argo CD's does.
func fakeArgoCD(args []string) int {
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	port := fs.Int("port", 0, "")
	metrics := fs.Int("metrics-port", 0, "")
	fs.String("address", "", "")
	fs.String("redis", "", "")
	fs.String("kubeconfig", "", "")
	fs.String("namespace", "", "")
	fs.String("repo-server", "", "")
	fs.String("loglevel", "", "")
	fs.Bool("disable-tls", false, "")
	fs.Bool("repo-server-plaintext", false, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *port == 0 { // the controller
		marker := filepath.Join(filepath.Dir(os.Getenv("TMPDIR")), "controller-ran")
		if _, err := os.Stat(marker); err != nil {
			_ = os.WriteFile(marker, nil, 0o644)
			fmt.Fprintf(os.Stderr, "level=fatal msg=\"listen tcp 127.0.0.1:%d: bind: address already in use\"\n", *metrics)
			return 1
		}
	}
	for _, p := range []int{*port, *metrics} {
		if p == 0 {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	select {}
}

// An env's Argo CD counts as started only once its processes serve on their ports. A
// controller that died because its port was taken meanwhile is started again, with the
// others, on new ports; the stack keeps only the processes that came up.
func TestArgoCDStartsAgainWhenAPortWasTaken(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is missing: apt-get install redis-server (make deps installs it)")
	}
	bin := t.TempDir()
	self, err := os.Executable()
	require.NoError(t, err)
	for _, name := range []string{"argocd-repo-server", "argocd-application-controller"} {
		script := fmt.Sprintf("#!/bin/sh\n%s=1 exec %q \"$@\"\n", fakeArgoEnv, self)
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755))
	}
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "logs"), 0o755))
	var log bytes.Buffer
	s := &Stack{opts: Options{Dir: dir, BinDir: bin, Log: &log}, Kubeconfigs: map[string]string{}}
	t.Cleanup(func() {
		for _, p := range s.processes() {
			p.stop(5 * time.Second)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, s.startArgoCD(ctx, "dev", filepath.Join(dir, "kubeconfig")))
	require.Contains(t, log.String(), "Argo CD for dev, attempt 1: ")
	require.Contains(t, log.String(), "address already in use")
	require.Contains(t, log.String(), "starting again on other ports")

	names := map[string]bool{}
	for _, p := range s.processes() {
		require.True(t, p.alive(), "%s", p.Name)
		require.False(t, p.starting.Load(), "%s serves: its exit would end the stack's Wait", p.Name)
		names[p.Name] = true
	}
	require.Equal(t, map[string]bool{"dev-redis": true, "dev-argocd-repo-server": true, "dev-argocd-application-controller": true}, names,
		"the first attempt's processes are stopped and not kept")
}

// FreePort hands out ports below the kernel's ephemeral range, where no outgoing
// connection takes one, and never the same port twice.
func TestFreePortStaysOutOfTheEphemeralRange(t *testing.T) {
	lo, hi := portRange()
	require.Less(t, lo, hi, "the ephemeral range starts at %d", hi)
	seen := map[int]bool{}
	for range 300 {
		port, err := FreePort()
		require.NoError(t, err)
		require.False(t, seen[port], "port %d given twice", port)
		seen[port] = true
		require.GreaterOrEqual(t, port, lo)
		require.Less(t, port, hi)
	}
}
