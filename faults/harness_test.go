//go:build faults

// Package faults breaks real processes of the local stack (the worker, the Temporal dev
// server, Argo CD, the Kubernetes API, the AWS and GitHub endpoints) while bootstraps and
// promotions run, and checks that nothing is lost and nothing is done twice. It runs with
// `make test-faults` (build tag faults), which `make test` calls.
package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/cmd/sandbox/stack"
	"github.com/alexpermiakov/idp/cmd/sandbox/stack/stacktest"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/workflows/api"
)

// rig is a local stack whose worker runs as a separate bin/worker process the test can kill.
type rig struct {
	t   *testing.T
	S   *stack.Stack
	Cfg *config.Config
	// Env is the environment bin/starter and bin/worker run with.
	Env     []string
	mu      sync.Mutex
	workers int
}

// up starts the sandbox without its worker (start one with StartWorker). opts may set
// TemporalDB or Encrypt; the directories and ports are the test's own.
func up(t *testing.T, opts stack.Options) *rig {
	t.Helper()
	opts.NoWorker = true
	s := stacktest.Up(t, opts, "worker", "starter")
	cfg, err := config.Load(s.Config)
	require.NoError(t, err)
	env := append(s.WorkerEnv(), "IDP_KEYS_DIR="+s.KeysDir())
	return &rig{t: t, S: s, Cfg: cfg, Env: env}
}

// Worker is a bin/worker process.
type Worker struct {
	t    *testing.T
	cmd  *exec.Cmd
	done chan struct{}
	// Log is its output file.
	Log string
}

// StartWorker runs bin/worker the way the sandbox does (extra adds variables, e.g. a proxy
// endpoint) and waits until it polls the task queue.
func (r *rig) StartWorker(extra ...string) *Worker {
	r.t.Helper()
	r.mu.Lock()
	r.workers++
	n := r.workers
	r.mu.Unlock()
	logPath := filepath.Join(r.S.Dir(), "logs", fmt.Sprintf("worker-%d.log", n))
	f, err := os.Create(logPath)
	require.NoError(r.t, err)
	cmd := exec.Command(filepath.Join("..", "bin", "worker"), r.S.WorkerArgs()...)
	cmd.Env = append(append([]string(nil), r.S.WorkerEnv()...), extra...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(r.t, cmd.Start())
	w := &Worker{t: r.t, cmd: cmd, done: make(chan struct{}), Log: logPath}
	go func() { _ = cmd.Wait(); f.Close(); close(w.done) }()
	r.t.Cleanup(func() { w.Stop() })
	deadline := time.Now().Add(60 * time.Second)
	for !r.polled() {
		select {
		case <-w.done:
			r.t.Fatalf("worker %d exited while starting: see %s\n%s", n, logPath, tailOf(logPath))
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("worker %d does not poll %q after 60 s: see %s\n%s", n, api.TaskQueue, logPath, tailOf(logPath))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return w
}

// polled reports whether a worker polls the task queue now. The server lists a killed
// worker's poller for a while, so after a kill this is true before the new worker polls;
// its activities then wait on the queue until it does.
func (r *rig) polled() bool {
	c := r.Client()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.DescribeTaskQueue(ctx, api.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
	return err == nil && len(resp.Pollers) > 0
}

// Kill ends the worker and every process it started at once, as an OOM kill of its
// container or a lost node would: its terraform too, which runs in a process group of its
// own, and terraform's provider plugins. The test fails if any of them is left.
func (w *Worker) Kill() {
	w.t.Helper()
	if w.cmd.Process == nil {
		return
	}
	tree := stack.KillTree(w.cmd.Process.Pid)
	<-w.done
	require.Eventually(w.t, func() bool {
		return !slices.ContainsFunc(tree, stack.PIDAlive)
	}, 10*time.Second, 50*time.Millisecond, "processes the killed worker started outlive it: %v", tree)
}

// Stop ends the worker gracefully (SIGTERM, then SIGKILL after 10 s).
func (w *Worker) Stop() {
	select {
	case <-w.done:
		return
	default:
	}
	_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		w.Kill()
	}
}

// Client dials the stack's dev server.
func (r *rig) Client() client.Client {
	r.t.Helper()
	c, err := client.Dial(client.Options{HostPort: r.S.TemporalAddress(), Logger: quiet{}})
	require.NoError(r.t, err)
	return c
}

// Starter runs bin/starter as a process and returns its exit code and combined output.
func (r *rig) Starter(args ...string) (int, string) {
	r.t.Helper()
	cmd := exec.Command(filepath.Join("..", "bin", "starter"), args...)
	cmd.Env = r.Env
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		r.t.Fatalf("starter %v: %v", args, err)
	}
	return 0, string(out)
}

// Status is `starter status ID -o json`.
func (r *rig) Status(id string) api.Status {
	r.t.Helper()
	code, out := r.Starter("status", id, "-o", "json")
	require.Equal(r.t, 0, code, out)
	var st api.Status
	require.NoError(r.t, json.Unmarshal([]byte(out), &st), out)
	return st
}

// AwaitStatus polls the run's status until ok holds or timeout passes.
func (r *rig) AwaitStatus(id string, timeout time.Duration, ok func(api.Status) bool) api.Status {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, out := r.Starter("status", id, "-o", "json")
		var st api.Status
		if code == 0 && json.Unmarshal([]byte(out), &st) == nil && ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: not there after %s; last status (exit %d):\n%s", id, timeout, code, out)
		}
		time.Sleep(time.Second)
	}
}

// Recovered records how long recovery from a fault took: in the test log, and in the report
// make test-faults prints at the end ($IDP_FAULT_REPORT, a tab-separated file), from which the
// README's Reliability table is kept.
func Recovered(t *testing.T, fault string, d time.Duration) {
	t.Helper()
	t.Logf("RECOVERY %s: %.1fs", fault, d.Seconds())
	path := os.Getenv("IDP_FAULT_REPORT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	defer f.Close()
	_, err = fmt.Fprintf(f, "%s\t%.1f\n", strings.ReplaceAll(fault, "\t", " "), d.Seconds())
	require.NoError(t, err)
}

func tailOf(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

type quiet struct{}

func (quiet) Debug(string, ...interface{}) {}
func (quiet) Info(string, ...interface{})  {}
func (quiet) Warn(string, ...interface{})  {}
func (quiet) Error(string, ...interface{}) {}
