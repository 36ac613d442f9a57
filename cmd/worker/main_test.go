package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/alexpermiakov/idp/internal/observe"
	"github.com/alexpermiakov/idp/workflows/api"
)

func TestValidateReportsEveryProblem(t *testing.T) {
	var b bytes.Buffer
	for _, tc := range []struct {
		o    options
		want []string
	}{
		{options{}, nil},
		{options{metricsAddr: ":9090", logFormat: "text", logLevel: "debug"}, nil},
		{options{metricsAddr: "127.0.0.1:0"}, nil},
		{options{metricsAddr: "9090"}, []string{`--metrics-addr (IDP_METRICS_ADDR) "9090": want HOST:PORT or :PORT`}},
		{options{pprofAddr: "6060"}, []string{`--pprof-addr (IDP_PPROF_ADDR) "6060": want HOST:PORT or :PORT`}},
		{options{metricsAddr: "localhost:http"}, []string{`port "http" is not a number`}},
		{options{workflowCache: "50"}, nil},
		{options{workflowCache: "0"}, []string{`--workflow-cache (IDP_WORKFLOW_CACHE) "0": want a whole number`}},
		{options{workflowCache: "lots"}, []string{`--workflow-cache (IDP_WORKFLOW_CACHE) "lots"`}},
		{options{metricsAddr: ":70000", logFormat: "xml"}, []string{`log format "xml": want json or text`, `port "70000"`}},
	} {
		tc.o.stderr = &b
		_, err := tc.o.validate()
		if tc.want == nil {
			require.NoError(t, err, "%+v", tc.o)
			continue
		}
		for _, w := range tc.want {
			require.ErrorContains(t, err, w)
		}
	}
}

// TestWorkerServesMetrics runs the worker as main does, against the Temporal dev server, with
// --metrics-addr: the SDK's metrics appear at /metrics, labelled with the namespace and task
// queue, the logs are JSON and say where, and stopping the worker closes the port.
func TestWorkerServesMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Temporal dev server; not part of -short")
	}
	hostPort := devServer(t)
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	t.Setenv("TEMPORAL_ADDRESS", hostPort)
	t.Setenv("TEMPORAL_NAMESPACE", "default")

	logs := &syncBuffer{}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	stop := make(chan interface{})
	done := make(chan error, 1)
	go func() {
		done <- run(options{config: "../../idp.yaml", metricsAddr: addr, stderr: logs}, stop)
	}()
	url := "http://" + addr + observe.MetricsPath
	var series []observe.Series
	require.Eventually(t, func() bool {
		got, err := observe.Scrape(context.Background(), url)
		series = got
		return err == nil && len(observe.Find(got, "temporal_worker_start_total", nil)) > 0
	}, 30*time.Second, 200*time.Millisecond, "no SDK metrics at %s; logs:\n%s", url, logs)
	started := observe.Find(series, "temporal_worker_start_total", map[string]string{"namespace": "default", "task_queue": "idp"})
	require.NotEmpty(t, started, "the SDK's metrics carry namespace and task queue")
	require.NotEmpty(t, observe.Find(series, "go_goroutines", nil))

	close(stop)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("the worker did not stop")
	}
	_, err := observe.Scrape(context.Background(), url)
	require.Error(t, err, "the metrics port closes with the worker")

	var serving map[string]any
	sc := bufio.NewScanner(bytes.NewReader(logs.Bytes()))
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), "not JSON: %s", sc.Text())
		if line["msg"] == "serving metrics" {
			serving = line
		}
	}
	require.NotNil(t, serving, logs.String())
	require.Equal(t, url, serving["url"])
}

// syncBuffer is a bytes.Buffer the worker's goroutines and the test can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

func (s *syncBuffer) String() string { return string(s.Bytes()) }

// devServer starts ../../bin/temporal's dev server on free ports and returns its address.
func devServer(t *testing.T, extra ...string) string {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join("..", "..", "bin", "temporal"))
	require.NoError(t, err)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing: run `make tools` (make test builds it first)", bin)
	}
	port := freePort(t)
	cmd := exec.Command(bin, append([]string{"server", "start-dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(port),
		"--ui-port", strconv.Itoa(freePort(t)), "--headless", "--log-level", "error"}, extra...)...)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	hostPort := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := client.DialContext(ctx, client.Options{HostPort: hostPort, Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
		if err != nil {
			return false
		}
		defer c.Close()
		_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err == nil
	}, 60*time.Second, 250*time.Millisecond, "dev server on %s", hostPort)
	return hostPort
}

// idpDevServer is devServer with idp's search attributes registered.
func idpDevServer(t *testing.T) string {
	t.Helper()
	var attrs []string
	for _, sa := range api.SearchAttributeSpecs() {
		attrs = append(attrs, "--search-attribute", sa)
	}
	return devServer(t, attrs...)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// --pprof-addr serves Go's profiles; a taken address fails the start with the flag's name.
func TestPprofServesProfiles(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	stop, err := options{pprofAddr: addr}.servePprof(logger)
	require.NoError(t, err)
	defer stop()
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), "HeapAlloc")

	_, err = options{pprofAddr: addr}.servePprof(logger)
	require.ErrorContains(t, err, "--pprof-addr, IDP_PPROF_ADDR")
}
