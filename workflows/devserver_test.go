package workflows

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/workflows/api"
)

// devServer starts ../bin/temporal's dev server on free ports, with idp's search attributes,
// and returns a client of it; both stop when the test ends.
func devServer(t *testing.T) client.Client {
	t.Helper()
	c, _ := startDevServer(t, "--headless")
	return c
}

// startDevServer starts the dev server with extra arguments and returns a client of it (no
// codec) and its address.
func startDevServer(t *testing.T, extra ...string) (client.Client, string) {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join("..", "bin", "temporal"))
	require.NoError(t, err)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing: run `make tools` (make test builds it first)", bin)
	}
	port := freePort(t)
	args := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(port),
		"--log-level", "error"}
	if !slices.Contains(extra, "--ui-port") {
		args = append(args, "--ui-port", strconv.Itoa(freePort(t)))
	}
	args = append(args, extra...)
	for _, sa := range api.SearchAttributeSpecs() {
		args = append(args, "--search-attribute", sa)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	quiet := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	hostPort := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var c client.Client
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err = client.DialContext(ctx, client.Options{HostPort: hostPort, Logger: quiet})
		return err == nil
	}, 60*time.Second, 250*time.Millisecond, "dev server on %s: %v", hostPort, err)
	t.Cleanup(c.Close)
	return c, hostPort
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lockWorker runs a worker with the real Lock workflow and the real Signaller, plus whatever
// register adds.
func lockWorker(t *testing.T, c client.Client, register func(worker.Worker)) {
	t.Helper()
	w := worker.New(c, api.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(Lock, workflowOptions(api.LockWorkflowName))
	w.RegisterActivity(&platform.Signaller{Client: c})
	w.RegisterWorkflowWithOptions(lockHolder, workflowOptions(lockHolderName))
	if register != nil {
		register(w)
	}
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
}
