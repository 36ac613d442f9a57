//go:build faults

package faults

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/cmd/sandbox/stack"
)

// TestHarness: a worker killed with SIGKILL is gone, a new one polls, and a stack process
// killed and restarted runs again.
func TestHarness(t *testing.T) {
	r := up(t, stack.Options{})
	w := r.StartWorker()
	w.Kill()
	select {
	case <-w.done:
	default:
		t.Fatal("the killed worker still runs")
	}
	r.StartWorker()
	require.Contains(t, r.S.ProcNames(), "aws-dev")
	require.NoError(t, r.S.Kill("aws-dev"))
	require.NotContains(t, r.S.ProcNames(), "aws-dev")
	require.NoError(t, r.S.Restart("aws-dev"))
	require.Eventually(t, func() bool {
		for _, n := range r.S.ProcNames() {
			if n == "aws-dev" {
				return true
			}
		}
		return false
	}, 10*time.Second, 100*time.Millisecond)
	code, out := r.Starter("list")
	require.Equal(t, 0, code, out)
}
