//go:build bench

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/cmd/sandbox/stack"
	"github.com/alexpermiakov/idp/cmd/sandbox/stack/stacktest"
	"github.com/alexpermiakov/idp/internal/cli"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/workflows/api"
)

// rig is a local stack whose workers run as bin/worker processes the harness measures.
type rig struct {
	t       *testing.T
	S       *stack.Stack
	Cfg     *config.Config
	C       client.Client
	base    string // idp.yaml as the sandbox wrote it
	workers []*worker
}

// up starts a sandbox without its worker, points this process's CLI at it, and starts one
// worker.
func up(t *testing.T, services int) *rig {
	t.Helper()
	start := time.Now()
	s := stacktest.Up(t, stack.Options{NoWorker: true, Services: services}, "worker", "starter", "sandbox")
	closeOnSignal(s)
	t.Logf("sandbox with %d generated services up in %s", services, time.Since(start).Round(time.Second))
	cfg, err := config.Load(s.Config)
	require.NoError(t, err)
	base, err := os.ReadFile(s.Config)
	require.NoError(t, err)
	for _, kv := range append(s.WorkerEnv(), "IDP_KEYS_DIR="+s.KeysDir()) { // cli.Main runs in this process
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	c, err := client.Dial(client.Options{HostPort: s.TemporalAddress(), Logger: quiet{}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	r := &rig{t: t, S: s, Cfg: cfg, C: c, base: string(base)}
	r.startWorker()
	return r
}

// closeOnSignal stops the stack when the harness is interrupted or terminated (a test's
// cleanups do not run then): its processes would otherwise live on, holding what they
// inherited, such as the e2e lock's file.
func closeOnSignal(s *stack.Stack) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-ch
		fmt.Fprintf(os.Stderr, "bench: %v: stopping the stack\n", sig)
		s.Close()
		os.Exit(1)
	}()
}

// worker is a bin/worker process.
type worker struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// startWorker runs one more bin/worker the way the sandbox does and waits until a worker
// polls the task queue.
func (r *rig) startWorker() *worker {
	r.t.Helper()
	logPath := filepath.Join(r.S.Dir(), "logs", fmt.Sprintf("bench-worker-%d.log", len(r.workers)+1))
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(r.t, err)
	cmd := exec.Command(filepath.Join("..", "bin", "worker"), r.S.WorkerArgs()...)
	if len(r.workers) > 0 { // one metrics port and events endpoint per worker
		cmd.Args = append(cmd.Args[:len(cmd.Args)-2], "--metrics-addr", fmt.Sprintf("127.0.0.1:%d", stacktest.FreePort(r.t)),
			"--events-addr", fmt.Sprintf("127.0.0.1:%d", stacktest.FreePort(r.t)))
	}
	cmd.Env = r.S.WorkerEnv()
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(r.t, cmd.Start())
	w := &worker{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { _ = cmd.Wait(); f.Close(); close(w.done) }()
	r.t.Cleanup(w.stop)
	r.workers = append(r.workers, w)
	deadline := time.Now().Add(90 * time.Second)
	for !r.polled() {
		select {
		case <-w.done:
			r.t.Fatalf("worker exited while starting: see %s", logPath)
		default:
		}
		require.True(r.t, time.Now().Before(deadline), "worker does not poll %q after 90 s: see %s", api.TaskQueue, logPath)
		time.Sleep(200 * time.Millisecond)
	}
	return w
}

func (r *rig) polled() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := r.C.DescribeTaskQueue(ctx, api.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
	return err == nil && len(resp.Pollers) > 0
}

// stopWorkers stops every worker (their pollers stay listed a while: startWorker after this
// returns at once, and the queue waits for the new one).
func (r *rig) stopWorkers() {
	for _, w := range r.workers {
		w.stop()
	}
	r.workers = nil
}

// useConfig rewrites idp.yaml (the sandbox's, changed by edit) and restarts the worker on it;
// the CLI in this process reads it on each call.
func (r *rig) useConfig(edit func(string) string) {
	r.t.Helper()
	y := edit(r.base)
	require.NoError(r.t, os.WriteFile(r.S.Config, []byte(y), 0o644))
	cfg, err := config.Load(r.S.Config)
	require.NoError(r.t, err, "the bench's idp.yaml:\n%s", y)
	r.Cfg = cfg
	r.stopWorkers()
	time.Sleep(2 * time.Second)
	r.startWorker()
}

func (w *worker) stop() {
	select {
	case <-w.done:
		return
	default:
	}
	_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
		<-w.done
	}
}

// starter runs the CLI in this process and returns its exit code and output.
func starter(args ...string) (int, string) {
	var out bytes.Buffer
	code := cli.Main(context.Background(), args, &out, &out)
	return code, out.String()
}

// must runs the CLI and fails the test unless it exits 0.
func (r *rig) must(args ...string) string {
	r.t.Helper()
	code, out := starter(args...)
	require.Equal(r.t, 0, code, "starter %v:\n%s", args, out)
	return out
}

// status is `starter status ID -o json`.
func (r *rig) status(id string) api.Status {
	r.t.Helper()
	out := r.must("status", id, "-o", "json")
	var st api.Status
	require.NoError(r.t, json.Unmarshal([]byte(out), &st), out)
	return st
}

// await polls the run's status every interval until ok holds; it fails after timeout.
func (r *rig) await(id string, timeout, interval time.Duration, ok func(api.Status) bool) api.Status {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, out := starter("status", id, "-o", "json")
		var st api.Status
		if code == 0 && json.Unmarshal([]byte(out), &st) == nil && ok(st) {
			return st
		}
		require.True(r.t, time.Now().Before(deadline), "%s: not there after %s; last status (exit %d):\n%s", id, timeout, code, out)
		time.Sleep(interval)
	}
}

// sandbox runs bin/sandbox on the rig's stack.
func (r *rig) sandbox(args ...string) string {
	r.t.Helper()
	bin, _ := filepath.Abs("../bin/sandbox")
	out, err := exec.Command(bin, append([]string{"--dir", r.S.Dir()}, args...)...).CombinedOutput()
	require.NoError(r.t, err, "sandbox %v:\n%s", args, out)
	return string(out)
}

// push puts service:tag into the tooling ECR (no push event) and returns its digest.
func (r *rig) push(service, tag string) string {
	r.t.Helper()
	d, err := stack.PushImage(context.Background(), r.Cfg.Tooling.AWS.Endpoint, stack.PushOptions{Service: service, Tag: tag})
	require.NoError(r.t, err)
	return d
}

// procPID is the PID of the stack's process name.
func (r *rig) procPID(name string) int {
	r.t.Helper()
	pid := 0
	for _, p := range r.procs() {
		if p.Name == name {
			pid = p.PID
		}
	}
	require.NotZero(r.t, pid, "no process %s in %s/state.json", name, r.S.Dir())
	return pid
}

// stackProc is one process of the stack, as its state file lists it.
type stackProc struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
}

// procs are the stack's processes, from the state file the stack keeps.
func (r *rig) procs() []stackProc {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.S.Dir(), "state.json"))
	require.NoError(r.t, err)
	var st struct {
		Procs []stackProc `json:"procs"`
	}
	require.NoError(r.t, json.Unmarshal(b, &st))
	return st.Procs
}

// procStat is a process's memory and CPU as /proc has them.
type procStat struct {
	PeakRSSMB, RSSMB float64
	CPUSeconds       float64
	// ChildCPUSeconds is the CPU of the process's children it has waited for (a repo-server's
	// helm and git runs).
	ChildCPUSeconds float64
}

// readProc reads VmHWM and VmRSS from /proc/PID/status, utime+stime from /proc/PID/stat.
func readProc(t *testing.T, pid int) procStat {
	t.Helper()
	var ps procStat
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "VmHWM:" || f[0] == "VmRSS:") {
			kb, _ := strconv.ParseFloat(f[1], 64)
			if f[0] == "VmHWM:" {
				ps.PeakRSSMB = kb / 1024
			} else {
				ps.RSSMB = kb / 1024
			}
		}
	}
	f, err := stack.StatFields(pid)
	require.NoError(t, err)
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	cutime, _ := strconv.ParseFloat(f[13], 64)
	cstime, _ := strconv.ParseFloat(f[14], 64)
	ps.CPUSeconds = (utime + stime) / clockTicks
	ps.ChildCPUSeconds = (cutime + cstime) / clockTicks
	return ps
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on Linux for x86 and arm64.
const clockTicks = 100

// resetPeak restarts the process's VmHWM from its current RSS (clear_refs 5).
func resetPeak(t *testing.T, pid int) {
	t.Helper()
	require.NoError(t, os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0o200))
}

func (w *worker) pid() int { return w.cmd.Process.Pid }

type quiet struct{}

func (quiet) Debug(string, ...interface{}) {}
func (quiet) Info(string, ...interface{})  {}
func (quiet) Warn(string, ...interface{})  {}
func (quiet) Error(string, ...interface{}) {}
