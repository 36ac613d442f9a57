// Package stack runs idp's local stack: the Temporal dev server with its Web UI, one AWS
// emulator per account, terraform against them, one Kubernetes control plane per environment
// with Argo CD, a local Git repository holding the platform content, and the worker.
// Everything it starts, it stops.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alexpermiakov/idp/activities/argocd"
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
	// TemporalDB keeps the dev server's state in this SQLite file, so it outlives a restart
	// (the default keeps it in memory).
	TemporalDB string
	// Encrypt turns payload encryption on, with a codec server for the Web UI on CodecPort.
	Encrypt   bool
	CodecPort int
	// Services adds that many generated services (svc-001, ...) to the platform alongside the
	// real ones, for load tests: see GeneratedServices.
	Services int
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
	// MetricsAddr is where the worker serves its metrics (127.0.0.1 and a free port).
	MetricsAddr string
	// EventsAddr is where the worker serves ECR push events (127.0.0.1 and a free port).
	EventsAddr string
	kube       *kubePlane
	// services maps every service of the platform, real and generated, to its ECR repository.
	services map[string]string
	// argoManifest is the official Argo CD install manifest the sandbox installs from.
	argoManifest string
	stop         context.CancelFunc
	started      time.Time
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
	if o.CodecPort == 0 {
		o.CodecPort = 8081
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
	if err := checkGenerated(o.Services); err != nil {
		errs = append(errs, err)
	}
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
	ports := []int{o.TemporalPort, o.UIPort}
	if o.Encrypt {
		ports = append(ports, o.CodecPort)
		if _, err := os.Stat(filepath.Join(o.BinDir, "starter")); err != nil {
			errs = append(errs, fmt.Errorf("%s/starter is missing (--encrypt runs its codec-server): run `make build`", o.BinDir))
		}
	}
	for _, p := range ports {
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
	s := &Stack{opts: opts, Endpoints: map[string]string{}, started: time.Now(), services: servicesWith(opts.Services)}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := prepareDir(opts.Dir); err != nil {
		return nil, err
	}
	if opts.Encrypt {
		if err := s.writeCodecKey(); err != nil {
			return nil, err
		}
	}
	// The dev server is waited for only after the rest has started: it comes up meanwhile.
	temporal, err := s.startTemporal()
	if err != nil {
		return nil, err
	}
	if err := s.startCloud(ctx); err != nil {
		return nil, err
	}
	if err := s.seedPlatform(ctx); err != nil {
		return nil, err
	}
	if err := s.waitTemporal(ctx, temporal); err != nil {
		return nil, err
	}
	if opts.Encrypt {
		if err := s.startCodecServer(ctx); err != nil {
			return nil, err
		}
	}
	if !opts.NoWorker {
		if err := s.startWorker(ctx, s.TemporalAddress()); err != nil {
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

// startCloud starts what stands in for the cloud: one AWS emulator per account, then one
// Kubernetes control plane per environment.
func (s *Stack) startCloud(ctx context.Context) (err error) {
	if err := s.startEmulators(ctx); err != nil {
		return err
	}
	s.logf("AWS emulators up: %s", strings.Join(s.endpointList(), ", "))
	if s.kube, err = startKubernetes(ctx, s.opts.Dir, s.opts.BinDir, Environments, s.logf); err != nil {
		return err
	}
	s.Kubeconfigs = s.kube.Kubeconfigs
	return nil
}

// seedPlatform puts in place what the platform starts from: the services' ECR repositories in
// the tooling account, the platform's Git repository, the Argo CD install manifest, and the
// sandbox's idp.yaml and env file pointing at all of it.
func (s *Stack) seedPlatform(ctx context.Context) (err error) {
	if err := createRepositories(ctx, s.Endpoints["tooling"], s.services); err != nil {
		return err
	}
	generated := GeneratedServices(s.opts.Services)
	if s.RepoURL, err = seedRepository(ctx, s.opts.Root, filepath.Join(s.opts.Dir, "git"), generated); err != nil {
		return err
	}
	s.logf("platform repository: %s", s.RepoURL)
	if len(generated) > 0 {
		s.logf("generated services: %d (%s ... %s)", len(generated), generated[0], generated[len(generated)-1])
	}
	if s.argoManifest, err = argocd.ModuleManifest(); err != nil {
		return err
	}
	if err := s.prepareEvents(); err != nil {
		return err
	}
	if s.Config, err = s.writeConfig(); err != nil {
		return err
	}
	port, err := FreePort()
	if err != nil {
		return err
	}
	s.MetricsAddr = fmt.Sprintf("127.0.0.1:%d", port)
	return s.writeEnv()
}

// logf writes a progress line; the envs' control planes start side by side and all log.
func (s *Stack) logf(format string, args ...any) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.opts.Log, "sandbox: "+format+"\n", args...)
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

// removeProcs forgets processes the stack stopped before they were of use.
func (s *Stack) removeProcs(gone []*proc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.procs = slices.DeleteFunc(s.procs, func(p *proc) bool { return slices.Contains(gone, p) })
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
				if !p.alive() && !p.starting.Load() {
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

// TemporalAddress is the dev server's host:port.
func (s *Stack) TemporalAddress() string { return fmt.Sprintf("127.0.0.1:%d", s.opts.TemporalPort) }

// Dir is the stack's state directory.
func (s *Stack) Dir() string { return s.opts.Dir }
