package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestHealthcheckFollowsTheRunningWorker runs the real worker binary against a Temporal dev
// server with the health endpoint on, and `worker healthcheck` against it, as a container's
// HEALTHCHECK does: ready while the worker polls and Temporal answers, not ready (but alive)
// once Temporal is gone.
func TestHealthcheckFollowsTheRunningWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal dev server and the worker binary; not part of -short")
	}
	temporal, err := filepath.Abs(filepath.Join("..", "..", "bin", "temporal"))
	require.NoError(t, err)
	if _, err := os.Stat(temporal); err != nil {
		t.Fatalf("%s is missing: run `make tools` (make test builds it first)", temporal)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "worker")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	port := freePort(t)
	server := exec.Command(temporal, "server", "start-dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(port),
		"--ui-port", strconv.Itoa(freePort(t)), "--headless", "--log-level", "error")
	require.NoError(t, server.Start())
	t.Cleanup(func() { _ = server.Process.Kill(); _ = server.Wait() })

	healthAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	env := append(os.Environ(),
		"TEMPORAL_CONFIG_FILE="+filepath.Join(dir, "none.toml"),
		"TEMPORAL_ADDRESS="+net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		"TEMPORAL_NAMESPACE=default",
		"IDP_CONFIG="+filepath.Join("..", "..", "idp.yaml"),
		"IDP_HEALTH_ADDR="+healthAddr)
	var logs bytes.Buffer
	w := startReady(t, bin, env, &logs)

	// Temporal gone: still alive, no longer ready, and the probe says why.
	require.NoError(t, server.Process.Kill())
	_ = server.Wait()
	require.Eventually(t, func() bool {
		err := probe(bin, env)
		return err != nil && strings.Contains(err.Error(), "temporal:")
	}, 30*time.Second, 200*time.Millisecond)
	resp, err := http.Get("http://" + healthAddr + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// SIGINT stops it: the endpoint goes away with the process.
	require.NoError(t, w.Process.Signal(syscall.SIGINT))
	require.Eventually(t, func() bool {
		_, err := http.Get("http://" + healthAddr + "/healthz")
		return err != nil
	}, 30*time.Second, 200*time.Millisecond)
}

// startReady starts the worker until `worker healthcheck` passes: the dev server takes a
// moment, and a worker that cannot dial it exits, so a failed start is retried.
func startReady(t *testing.T, bin string, env []string, logs *bytes.Buffer) *exec.Cmd {
	t.Helper()
	for attempt := 0; attempt < 10; attempt++ {
		w := exec.Command(bin)
		w.Env, w.Stdout, w.Stderr = env, logs, logs
		require.NoError(t, w.Start())
		done := make(chan struct{})
		go func() { _ = w.Wait(); close(done) }()
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			select {
			case <-done:
				deadline = time.Time{}
				continue
			default:
			}
			if probe(bin, env) == nil {
				t.Cleanup(func() { _ = w.Process.Kill(); <-done })
				return w
			}
		}
		_ = w.Process.Kill()
		<-done
		time.Sleep(time.Second)
	}
	t.Fatalf("the worker never became ready:\n%s", logs.String())
	return nil
}

func probe(bin string, env []string) error {
	cmd := exec.Command(bin, "healthcheck")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return &probeError{err: err, out: string(out)}
	}
	return nil
}

type probeError struct {
	err error
	out string
}

func (e *probeError) Error() string { return e.err.Error() + ": " + e.out }
