package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// proc is a child process the stack started and must stop.
type proc struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	cmd  *exec.Cmd
	done chan struct{}
	log  string // the output file
	// starting marks a process the stack may still stop and start again on other ports
	// (an env's Argo CD before it serves): its exit does not end Wait.
	starting atomic.Bool
}

// ErrPortTaken says a process could not bind a port it was given: another process took it
// between being found free and being bound. Starting again with other ports gets past it.
var ErrPortTaken = errors.New("a port was taken before it could be bound")

// exitError says why p ended during start-up: the end of its log, so the reason survives
// the directory it was written in.
func (p *proc) exitError(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	tail := p.tail(12)
	if tail == "" {
		return err
	}
	if strings.Contains(tail, "address already in use") {
		err = fmt.Errorf("%w: %w", err, ErrPortTaken)
	}
	return fmt.Errorf("%w; the end of %s:\n%s", err, p.log, tail)
}

// tail is the last n lines of the process's log, or "" when there is none.
func (p *proc) tail(n int) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// startProc starts a child in its own process group with output to logPath.
func startProc(name, logPath string, env []string, bin string, args ...string) (*proc, error) {
	return startLogged(name, logPath, os.O_TRUNC, env, bin, args...)
}

// startProcAppend is startProc appending to the log (a restart keeps what came before).
func startProcAppend(name, logPath string, env []string, bin string, args ...string) (*proc, error) {
	return startLogged(name, logPath, os.O_APPEND, env, bin, args...)
}

func startLogged(name, logPath string, mode int, env []string, bin string, args ...string) (*proc, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|mode, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{Name: name, PID: cmd.Process.Pid, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		_ = cmd.Wait()
		log.Close()
		close(p.done)
	}()
	return p, nil
}

// alive reports whether the process has not exited.
func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop interrupts the process group, then kills it if it has not gone within grace.
func (p *proc) stop(grace time.Duration) {
	if !p.alive() {
		return
	}
	_ = syscall.Kill(-p.PID, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.PID, syscall.SIGKILL)
		<-p.done
	}
}

// killPID stops a process (group) this stack recorded in an earlier life, by PID.
func killPID(pid int, grace time.Duration) {
	if pid <= 0 || !PIDAlive(pid) {
		return
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !PIDAlive(pid) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// PIDAlive says pid runs: it exists and is not a zombie (which still answers signal 0, but is
// gone for our purposes: it only waits for its parent to reap it).
func PIDAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	f, err := StatFields(pid)
	if err != nil {
		return false
	}
	return len(f) == 0 || f[0] != "Z"
}

// StatFields are the fields of /proc/PID/stat after the command, its state first (f[0]; the
// parent is f[1], utime f[11]): the command, in parentheses, may itself hold spaces and
// parentheses, so they start after its last ')'.
func StatFields(pid int) ([]string, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])), nil
}

// Descendants are the processes below pid (its children, theirs, ...), from /proc.
func Descendants(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := StatFields(p)
		if err != nil || len(f) < 2 {
			continue
		}
		if parent, err := strconv.Atoi(f[1]); err == nil {
			children[parent] = append(children[parent], p)
		}
	}
	var out []int
	for queue := []int{pid}; len(queue) > 0; queue = queue[1:] {
		out = append(out, children[queue[0]]...)
		queue = append(queue, children[queue[0]]...)
	}
	return out
}

// KillTree ends the process group pid leads and every process below pid at once with SIGKILL,
// and returns the processes below it. Its group is not enough where a child put itself in a
// group of its own (terraform, run by tfexec) and started more (its provider plugins). The
// tree is stopped first, so that nothing in it starts a process that would escape the kill.
func KillTree(pid int) []int {
	_ = syscall.Kill(-pid, syscall.SIGSTOP)
	var tree []int
	for grown := true; grown; {
		next := Descendants(pid)
		grown = len(next) > len(tree)
		tree = next
		for _, p := range tree {
			_ = syscall.Kill(p, syscall.SIGSTOP)
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for _, p := range tree {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	return tree
}

// portFree reports whether nothing listens on 127.0.0.1:port.
func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// FreePort returns a port nothing listens on now, never the same one twice in this process.
// It picks below the kernel's ephemeral range (net.ipv4.ip_local_port_range), where outgoing
// connections take their source ports: a port the kernel chose for us (":0") comes from
// that range, and one of the stack's hundreds of client connections could take it before
// the component given it binds it (a controller that cannot bind its metrics port exits).
// Another stack on the host can still take it: callers check their processes came up.
func FreePort() (int, error) {
	lo, hi := portRange()
	given.Lock()
	defer given.Unlock()
	for i := 0; i < 500 && hi > lo; i++ {
		port := lo + rand.IntN(hi-lo)
		if !given.ports[port] && portFree(port) {
			given.ports[port] = true
			return port, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	given.ports[port] = true
	return port, nil
}

// given is the ports FreePort handed out.
var given = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// portRange is [lo, hi): up to 12,000 ports right below the ephemeral range, none below
// 10,000; empty when the ephemeral range starts too low to leave room.
func portRange() (lo, hi int) {
	first := 32768 // Linux's default
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				first = n
			}
		}
	}
	return max(10000, first-12000), first
}

// waitFor polls check until it succeeds, the process dies or the deadline passes.
func waitFor(ctx context.Context, what string, p *proc, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if p != nil && !p.alive() {
			return p.exitError("%s exited during start-up", what)
		}
		if last = check(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %w", what, timeout, errors.Join(last, ctx.Err()))
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// waitAll is waitFor on a condition several processes bring about: any of them dying ends it.
func waitAll(ctx context.Context, what string, procs []*proc, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var dead *proc
	err := waitFor(ctx, what, nil, timeout, func(ctx context.Context) error {
		for _, p := range procs {
			if !p.alive() {
				dead = p
				cancel()
				return fmt.Errorf("%s exited", p.Name)
			}
		}
		return check(ctx)
	})
	if dead != nil {
		return dead.exitError("%s exited while waiting for %s", dead.Name, what)
	}
	return err
}
