// Package sandbox runs idp's local stack: the Temporal dev server with its Web UI, one AWS
// emulator per account, terraform against them, a local Git repository holding the platform
// content, and the worker. Everything it starts, it stops.
package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/workflows"
)

// Options configure a stack.
type Options struct {
	// Dir is the sandbox's state directory (.sandbox).
	Dir string
	// Root is the project checkout whose infra/, argocd/ and helm-charts/ seed the Git repository.
	Root string
	// BinDir holds temporal and worker binaries.
	BinDir       string
	TemporalPort int
	UIPort       int
	// NoWorker leaves the worker to the user (or a test).
	NoWorker bool
	// Log receives progress lines.
	Log io.Writer
}

// Environments are the sandbox's environments, in promotion order.
var Environments = []string{"dev", "staging", "prod"}

// Accounts are the emulated AWS accounts: one emulator each, as separate as real accounts.
var Accounts = []string{"dev", "staging", "prod", "tooling"}

// AccountIDs are the sandbox's account IDs (labels: the emulator does not check them).
var AccountIDs = map[string]string{"dev": "111111111111", "staging": "222222222222", "prod": "333333333333", "tooling": "444444444444"}

// Stack is a running local stack.
type Stack struct {
	opts  Options
	mu    sync.Mutex // guards procs, which grow when Argo CD starts after a bootstrap
	procs []*proc
	logMu sync.Mutex
	// Endpoints maps an account name to its AWS endpoint.
	Endpoints map[string]string
	// RepoURL is the platform repository's URL.
	RepoURL string
	// Config is the path of the sandbox's idp.yaml.
	Config string
	// Kubeconfigs maps an env to its cluster's kubeconfig.
	Kubeconfigs map[string]string
	kube        *kubePlane
	// argoManifest is the official Argo CD install manifest the sandbox installs from.
	argoManifest string
	stop         context.CancelFunc
	started      time.Time
}

// state is what `down` needs to find an earlier stack.
type state struct {
	PID   int    `json:"pid"`
	Procs []proc `json:"procs"`
}

func (o *Options) defaults() error {
	if o.Dir == "" {
		o.Dir = ".sandbox"
	}
	if o.Root == "" {
		o.Root = "."
	}
	if o.BinDir == "" {
		o.BinDir = "bin"
	}
	if o.TemporalPort == 0 {
		o.TemporalPort = 7233
	}
	if o.UIPort == 0 {
		o.UIPort = 8233
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	var err error
	for _, p := range []*string{&o.Dir, &o.Root, &o.BinDir} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	return nil
}

func (o Options) checkPrerequisites() error {
	var errs []error
	if _, err := os.Stat(filepath.Join(o.BinDir, "sandbox")); err != nil {
		errs = append(errs, fmt.Errorf("%s/sandbox is missing: run `make build`", o.BinDir))
	}
	if _, err := os.Stat(filepath.Join(o.BinDir, "temporal")); err != nil {
		errs = append(errs, fmt.Errorf("%s/temporal is missing: run `make tools`", o.BinDir))
	}
	if !o.NoWorker {
		if _, err := os.Stat(filepath.Join(o.BinDir, "worker")); err != nil {
			errs = append(errs, fmt.Errorf("%s/worker is missing: run `make build`", o.BinDir))
		}
	}
	for _, b := range argoTools {
		if _, err := os.Stat(filepath.Join(o.BinDir, b)); err != nil {
			errs = append(errs, fmt.Errorf("%s/%s is missing: run `make kube-tools`", o.BinDir, b))
		}
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		errs = append(errs, errors.New("redis-server is missing: apt-get install redis-server"))
	}
	for _, d := range []string{"infra", "argocd", "helm-charts"} {
		if st, err := os.Stat(filepath.Join(o.Root, d)); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("%s has no %s/: run the sandbox from the idp checkout (or pass --root)", o.Root, d))
		}
	}
	for _, p := range []int{o.TemporalPort, o.UIPort} {
		if !portFree(p) {
			errs = append(errs, fmt.Errorf("port %d is in use: is a sandbox already up? (make sandbox-down)", p))
		}
	}
	return errors.Join(errs...)
}

// Up starts every part and returns once each is ready. On failure it stops what it started.
func Up(ctx context.Context, opts Options) (_ *Stack, err error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if err := opts.checkPrerequisites(); err != nil {
		return nil, err
	}
	s := &Stack{opts: opts, Endpoints: map[string]string{}, started: time.Now()}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := clean(opts.Dir); err != nil {
		return nil, err
	}
	for _, d := range []string{"logs", "work"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}

	temporal, err := s.startTemporal()
	if err != nil {
		return nil, err
	}
	if err := s.startEmulators(ctx); err != nil {
		return nil, err
	}
	s.logf("AWS emulators up: %s", strings.Join(s.endpointList(), ", "))
	if s.kube, err = startKubernetes(ctx, opts.Dir, opts.BinDir, Environments, s.logf); err != nil {
		return nil, err
	}
	s.Kubeconfigs = s.kube.Kubeconfigs
	if err := createRepositories(ctx, s.Endpoints["tooling"]); err != nil {
		return nil, err
	}
	if s.RepoURL, err = SeedRepository(ctx, opts.Root, filepath.Join(opts.Dir, "git")); err != nil {
		return nil, err
	}
	s.logf("platform repository: %s", s.RepoURL)
	if s.argoManifest, err = argocd.ModuleManifest(); err != nil {
		return nil, err
	}
	if s.Config, err = s.writeConfig(); err != nil {
		return nil, err
	}
	if err := s.writeEnv(); err != nil {
		return nil, err
	}

	hostPort := fmt.Sprintf("127.0.0.1:%d", opts.TemporalPort)
	if err := waitFor(ctx, "Temporal dev server", temporal, 90*time.Second, func(ctx context.Context) error {
		return temporalReady(ctx, hostPort)
	}); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, "Temporal Web UI", temporal, 30*time.Second, func(ctx context.Context) error {
		return httpOK(ctx, fmt.Sprintf("http://127.0.0.1:%d/", opts.UIPort))
	}); err != nil {
		return nil, err
	}
	s.logf("Temporal dev server on %s, Web UI on http://localhost:%d", hostPort, opts.UIPort)

	if !opts.NoWorker {
		if err := s.startWorker(ctx, hostPort); err != nil {
			return nil, err
		}
	}
	if err := s.saveState(); err != nil {
		return nil, err
	}
	watchCtx, stop := context.WithCancel(context.Background())
	s.stop = stop
	go s.watchArgoCD(watchCtx, s.Kubeconfigs)
	s.logf("sandbox ready in %.1fs: source %s/env", time.Since(s.started).Seconds(), opts.Dir)
	return s, nil
}

// logf writes a progress line; the envs' control planes start side by side and all log.
func (s *Stack) logf(format string, args ...any) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.opts.Log, "sandbox: "+format+"\n", args...)
}

func (s *Stack) endpointList() []string {
	var out []string
	for _, a := range Accounts {
		out = append(out, a+"="+s.Endpoints[a])
	}
	return out
}

// startEmulators runs one AWS emulator process per account. They must be processes: the
// emulator keeps each service's state in one store per process, so emulators sharing a process
// would share buckets, roles and VPCs across accounts.
func (s *Stack) startEmulators(ctx context.Context) error {
	urlDir := filepath.Join(s.opts.Dir, "emulators")
	if err := os.MkdirAll(urlDir, 0o755); err != nil {
		return err
	}
	started := map[string]*proc{}
	for _, acct := range Accounts {
		p, err := startProc("aws-"+acct, filepath.Join(s.opts.Dir, "logs", "aws-"+acct+".log"), os.Environ(),
			filepath.Join(s.opts.BinDir, "sandbox"), "emulator", "--url-file", filepath.Join(urlDir, acct+".url"))
		if err != nil {
			return err
		}
		s.addProc(p)
		started[acct] = p
	}
	for _, acct := range Accounts {
		urlFile := filepath.Join(urlDir, acct+".url")
		if err := waitFor(ctx, "AWS emulator for "+acct, started[acct], 30*time.Second, func(ctx context.Context) error {
			b, err := os.ReadFile(urlFile)
			if err != nil || len(b) == 0 || b[len(b)-1] != '\n' {
				return errors.New("no URL yet")
			}
			s.Endpoints[acct] = strings.TrimSpace(string(b))
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Stack) startTemporal() (*proc, error) {
	args := []string{"server", "start-dev", "--ip", "127.0.0.1",
		"--port", strconv.Itoa(s.opts.TemporalPort), "--ui-port", strconv.Itoa(s.opts.UIPort),
		"--log-level", "warn", "--log-format", "pretty"}
	names := append([]string(nil), workflows.SearchAttributeNames...)
	sort.Strings(names)
	for _, sa := range names {
		args = append(args, "--search-attribute", sa+"=Keyword")
	}
	p, err := startProc("temporal", filepath.Join(s.opts.Dir, "logs", "temporal.log"), os.Environ(),
		filepath.Join(s.opts.BinDir, "temporal"), args...)
	if err != nil {
		return nil, err
	}
	s.addProc(p)
	return p, nil
}

func (s *Stack) startWorker(ctx context.Context, hostPort string) error {
	env := append(os.Environ(), "TEMPORAL_ADDRESS="+hostPort, "TEMPORAL_NAMESPACE=default", "IDP_CONFIG="+s.Config)
	p, err := startProc("worker", filepath.Join(s.opts.Dir, "logs", "worker.log"), env,
		filepath.Join(s.opts.BinDir, "worker"), "--config", s.Config)
	if err != nil {
		return err
	}
	s.addProc(p)
	if err := waitFor(ctx, "worker", p, 30*time.Second, func(ctx context.Context) error {
		return workerPolling(ctx, hostPort)
	}); err != nil {
		return err
	}
	s.logf("worker polling task queue %q", workflows.TaskQueue)
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
		Namespace: "default", TaskQueue: &taskqueue.TaskQueue{Name: workflows.TaskQueue}, TaskQueueType: enumspb.TASK_QUEUE_TYPE_WORKFLOW})
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

func (s *Stack) processes() []*proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*proc(nil), s.procs...)
}

// addProc records a process the stack must stop.
func (s *Stack) addProc(p *proc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.procs = append(s.procs, p)
}

func (s *Stack) saveState() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := state{PID: os.Getpid()}
	procs := s.procs
	if s.kube != nil {
		procs = append(append([]*proc(nil), s.kube.procs...), procs...)
	}
	for _, p := range procs {
		st.Procs = append(st.Procs, proc{Name: p.Name, PID: p.PID})
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.opts.Dir, "state.json"), b, 0o644)
}

// Wait blocks until ctx is done or a child process dies.
func (s *Stack) Wait(ctx context.Context) error {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			for _, p := range s.processes() {
				if !p.alive() {
					return fmt.Errorf("%s exited: see %s", p.Name, filepath.Join(s.opts.Dir, "logs", p.Name+".log"))
				}
			}
		}
	}
}

// Close stops every process in reverse start order and shuts the emulators down.
func (s *Stack) Close() {
	if s.stop != nil {
		s.stop()
	}
	procs := s.processes()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop(10 * time.Second)
	}
	if s.kube != nil {
		s.kube.Close()
	}
	_ = os.Remove(filepath.Join(s.opts.Dir, "state.json"))
	s.logf("stopped")
}

// Down stops a stack started earlier (in the foreground elsewhere or detached) by the PIDs it
// recorded, and waits until they are gone.
func Down(dir string, log io.Writer) error {
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(log, "sandbox: not running")
		return nil
	}
	if err != nil {
		return err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("reading %s/state.json: %w", dir, err)
	}
	// The stack process stops its children itself; anything left is killed by PID.
	killPID(st.PID, 30*time.Second)
	for _, p := range st.Procs {
		killPID(p.PID, 10*time.Second)
	}
	_ = os.Remove(filepath.Join(dir, "state.json"))
	fmt.Fprintln(log, "sandbox: stopped")
	return nil
}

// clean empties the state directory of an earlier stack, keeping the detached stack's own log.
func clean(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == DetachLog {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

type nopLogger struct{}

func (nopLogger) Debug(string, ...interface{}) {}
func (nopLogger) Info(string, ...interface{})  {}
func (nopLogger) Warn(string, ...interface{})  {}
func (nopLogger) Error(string, ...interface{}) {}

// TemporalAddress is the dev server's host:port.
func (s *Stack) TemporalAddress() string { return fmt.Sprintf("127.0.0.1:%d", s.opts.TemporalPort) }

// Dir is the stack's state directory.
func (s *Stack) Dir() string { return s.opts.Dir }
