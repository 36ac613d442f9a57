package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
)

// Faults: the hooks make test-faults breaks the stack with. A process is named as its log is
// (logs/NAME.log): temporal, worker, aws-dev, dev-kube-apiserver,
// dev-argocd-application-controller, ...

// ProcNames lists the processes the stack runs now, sorted.
func (s *Stack) ProcNames() []string {
	var names []string
	for _, p := range s.allProcs() {
		if p.alive() {
			names = append(names, p.Name)
		}
	}
	sort.Strings(names)
	return names
}

// Kill ends the named process group at once with SIGKILL, as a crash or an OOM kill would, and
// waits until it has gone. Killing a process that is already gone is not an error.
func (s *Stack) Kill(name string) error {
	p := s.findProc(name)
	if p == nil {
		return fmt.Errorf("no process %q in the stack (it runs %v)", name, s.ProcNames())
	}
	if p.alive() {
		_ = syscall.Kill(-p.PID, syscall.SIGKILL)
		<-p.done
	}
	return nil
}

// Restart starts the named process again after Kill: the same binary, arguments and
// environment, its output appended to the same log. It does not wait for it to be ready.
func (s *Stack) Restart(name string) error {
	p := s.findProc(name)
	if p == nil {
		return fmt.Errorf("no process %q in the stack (it runs %v)", name, s.ProcNames())
	}
	if p.alive() {
		return fmt.Errorf("%s still runs (pid %d): Kill it first", name, p.PID)
	}
	logPath := filepath.Join(s.opts.Dir, "logs", name+".log")
	if f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644); err == nil {
		fmt.Fprintf(f, "\n--- restarted by the stack's Restart ---\n")
		f.Close()
	}
	np, err := startProcAppend(name, logPath, p.cmd.Env, p.cmd.Path, p.cmd.Args[1:]...)
	if err != nil {
		return err
	}
	s.replaceProc(p, np)
	return nil
}

// WorkerEnv and WorkerArgs are how the stack runs bin/worker: a test that runs its own worker
// process (NoWorker) starts it the same way.
func (s *Stack) WorkerEnv() []string {
	return append(append(append(clientEnv(), s.temporalEnv()...), s.codecEnv()...), "IDP_CONFIG="+s.Config)
}

// WorkerArgs: see WorkerEnv.
func (s *Stack) WorkerArgs() []string {
	return []string{"--config", s.Config, "--metrics-addr", s.MetricsAddr}
}

// allProcs is every process of the stack, its own and its Kubernetes planes'.
func (s *Stack) allProcs() []*proc {
	procs := s.processes()
	if s.kube != nil {
		s.kube.mu.Lock()
		procs = append(procs, s.kube.procs...)
		s.kube.mu.Unlock()
	}
	return procs
}

// findProc is the last process started under name (a restart replaces the first).
func (s *Stack) findProc(name string) *proc {
	var found *proc
	for _, p := range s.allProcs() {
		if p.Name == name {
			found = p
		}
	}
	return found
}

// replaceProc puts np where old was, so Close stops np.
func (s *Stack) replaceProc(old, np *proc) {
	s.mu.Lock()
	for i, p := range s.procs {
		if p == old {
			s.procs[i] = np
		}
	}
	s.mu.Unlock()
	if s.kube == nil {
		return
	}
	s.kube.mu.Lock()
	defer s.kube.mu.Unlock()
	for i, p := range s.kube.procs {
		if p == old {
			s.kube.procs[i] = np
		}
	}
	for env, procs := range s.kube.envProcs {
		for i, p := range procs {
			if p == old {
				s.kube.envProcs[env][i] = np
			}
		}
	}
	if s.kube.etcd == old {
		s.kube.etcd = np
	}
}
