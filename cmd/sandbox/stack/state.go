package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// state is what `down` needs to find an earlier stack.
type state struct {
	PID   int    `json:"pid"`
	Procs []proc `json:"procs"`
}

// saveState writes the state file Down reads: this process and every child, the control
// planes' first.
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
	for i := range st.Procs {
		killPID(st.Procs[i].PID, 10*time.Second)
	}
	_ = os.Remove(filepath.Join(dir, "state.json"))
	fmt.Fprintln(log, "sandbox: stopped")
	return nil
}

// prepareDir empties the state directory of an earlier stack and creates its logs/ and work/.
func prepareDir(dir string) error {
	if err := clean(dir); err != nil {
		return err
	}
	for _, d := range []string{"logs", "work"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
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
