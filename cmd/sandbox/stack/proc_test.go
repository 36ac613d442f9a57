package stack

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A process that dies at start-up leaves the end of its log in the error, and a port
// someone else bound first is told apart: the test harness starts again on other ports.
func TestStartUpExitSaysWhy(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, script string
		taken        bool
	}{
		{"port taken", `echo starting; echo 'listen tcp 127.0.0.1:7233: bind: address already in use' >&2; exit 1`, true},
		{"other failure", `echo 'flag provided but not defined: -x' >&2; exit 2`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := startProc("demo", filepath.Join(dir, c.name+".log"), nil, "/bin/sh", "-c", c.script)
			require.NoError(t, err)
			err = waitFor(context.Background(), "demo", p, 10*time.Second, func(context.Context) error {
				return errors.New("not yet")
			})
			require.ErrorContains(t, err, "demo exited during start-up")
			require.ErrorContains(t, err, c.name+".log")
			require.Equal(t, c.taken, errors.Is(err, ErrPortTaken), "%v", err)
			if c.taken {
				require.ErrorContains(t, err, "bind: address already in use")
			} else {
				require.ErrorContains(t, err, "flag provided but not defined")
			}
		})
	}
}
