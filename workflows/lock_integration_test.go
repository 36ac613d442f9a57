package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestLockLetsGoOfATerminatedHolder runs the real Lock and Signaller on a dev server: a holder
// terminated while holding the lock never releases it, and the next owner gets it after the
// lock's next liveness check.
func TestLockLetsGoOfATerminatedHolder(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Temporal dev server; not part of -short")
	}
	c := devServer(t)
	lockWorker(t, c, nil)
	ctx := context.Background()
	lockID := api.LockID("time-service", "staging")
	in := lockHolderInput{LockID: lockID, Key: "time-service/staging", CheckInterval: 2 * time.Second}

	startHolder(t, c, "promote-time-service-v1.0.0", in)
	waitState(t, c, "promote-time-service-v1.0.0", "holding", 30*time.Second)
	next := startHolder(t, c, "promote-time-service-v1.0.1", in)
	waitState(t, c, "promote-time-service-v1.0.1", "requested", 30*time.Second)

	require.NoError(t, c.TerminateWorkflow(ctx, "promote-time-service-v1.0.0", "", "stuck"))
	waitState(t, c, "promote-time-service-v1.0.1", "holding", time.Minute)

	v, err := c.QueryWorkflow(ctx, lockID, "", api.StatusQuery)
	require.NoError(t, err)
	var st LockStatus
	require.NoError(t, v.Get(&st))
	require.Equal(t, "promote-time-service-v1.0.1", st.Holder)
	require.Equal(t, "promote-time-service-v1.0.0: released: its workflow is terminated and never released the lock", st.LastReason)

	require.NoError(t, c.SignalWorkflow(ctx, next.GetID(), "", doneSignal, nil))
	require.NoError(t, next.Get(ctx, nil))
	require.NoError(t, c.GetWorkflow(ctx, lockID, "").Get(ctx, nil), "an idle lock ends")

	out, err := (&platform.Signaller{Client: c}).WorkflowRunning(ctx, platform.WorkflowRunningInput{WorkflowID: "promote-never-started"})
	require.NoError(t, err, "the server's NotFound is an answer, not an error")
	require.Equal(t, platform.WorkflowRunningOutput{Status: "not found"}, out)
}
