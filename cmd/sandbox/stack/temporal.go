package stack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/workflows/api"
)

// startTemporal starts the dev server with idp's search attributes registered, without
// waiting for it (waitTemporal does).
func (s *Stack) startTemporal() (*proc, error) {
	args := []string{"server", "start-dev", "--ip", "127.0.0.1",
		"--port", strconv.Itoa(s.opts.TemporalPort), "--ui-port", strconv.Itoa(s.opts.UIPort),
		"--log-level", "warn", "--log-format", "pretty"}
	specs := api.SearchAttributeSpecs()
	sort.Strings(specs)
	for _, sa := range specs {
		args = append(args, "--search-attribute", sa)
	}
	if s.opts.Encrypt {
		args = append(args, "--ui-codec-endpoint", s.opts.CodecEndpoint())
	}
	if s.opts.TemporalDB != "" {
		args = append(args, "--db-filename", s.opts.TemporalDB)
	}
	p, err := startProc("temporal", filepath.Join(s.opts.Dir, "logs", "temporal.log"), os.Environ(),
		filepath.Join(s.opts.BinDir, "temporal"), args...)
	if err != nil {
		return nil, err
	}
	s.addProc(p)
	return p, nil
}

// waitTemporal waits until the dev server p answers and serves its Web UI.
func (s *Stack) waitTemporal(ctx context.Context, p *proc) error {
	hostPort := s.TemporalAddress()
	if err := waitFor(ctx, "Temporal dev server", p, 90*time.Second, func(ctx context.Context) error {
		return temporalReady(ctx, hostPort)
	}); err != nil {
		return err
	}
	if err := waitFor(ctx, "Temporal Web UI", p, 30*time.Second, func(ctx context.Context) error {
		return httpOK(ctx, fmt.Sprintf("http://127.0.0.1:%d/", s.opts.UIPort))
	}); err != nil {
		return err
	}
	s.logf("Temporal dev server on %s, Web UI on http://localhost:%d", hostPort, s.opts.UIPort)
	return nil
}

func (s *Stack) startWorker(ctx context.Context, hostPort string) error {
	// The worker reaches the dev server whatever Temporal settings and payload keys the
	// sandbox was started with.
	env := append(append(append(clientEnv(), s.temporalEnv()...), s.codecEnv()...), "IDP_CONFIG="+s.Config)
	p, err := startProc("worker", filepath.Join(s.opts.Dir, "logs", "worker.log"), env,
		filepath.Join(s.opts.BinDir, "worker"), "--config", s.Config, "--metrics-addr", s.MetricsAddr)
	if err != nil {
		return err
	}
	s.addProc(p)
	if err := waitFor(ctx, "worker", p, 30*time.Second, func(ctx context.Context) error {
		return workerPolling(ctx, hostPort)
	}); err != nil {
		return err
	}
	s.logf("worker polling task queue %q, metrics at %s", api.TaskQueue, s.MetricsURL())
	return nil
}

func temporalReady(ctx context.Context, hostPort string) error {
	c, err := client.DialContext(ctx, client.Options{HostPort: hostPort, Logger: nopLogger{}})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}

func workerPolling(ctx context.Context, hostPort string) error {
	c, err := client.DialContext(ctx, client.Options{HostPort: hostPort, Logger: nopLogger{}})
	if err != nil {
		return err
	}
	defer c.Close()
	resp, err := c.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
		Namespace: "default", TaskQueue: &taskqueue.TaskQueue{Name: api.TaskQueue}, TaskQueueType: enumspb.TASK_QUEUE_TYPE_WORKFLOW})
	if err != nil {
		return err
	}
	if len(resp.Pollers) == 0 {
		return errors.New("no worker polls yet")
	}
	return nil
}

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// nopLogger keeps the SDK client of the readiness probes quiet.
type nopLogger struct{}

func (nopLogger) Debug(string, ...interface{}) {}
func (nopLogger) Info(string, ...interface{})  {}
func (nopLogger) Warn(string, ...interface{})  {}
func (nopLogger) Error(string, ...interface{}) {}
