package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/workflows/api"
)

// lockHolderName is the test workflow that stands in for a promotion on a real server.
const lockHolderName = "LockHolder"

// doneSignal tells a lockHolder to release the lock and end.
const doneSignal = "done"

type lockHolderInput struct {
	LockID        string        `json:"lockId"`
	Key           string        `json:"key"`
	Supersede     bool          `json:"supersede,omitempty"`
	CheckInterval time.Duration `json:"checkInterval,omitempty"`
}

// lockHolder acquires a lock the way Promote does (SignalWithStart from an activity, release
// by a signal from a disconnected context), holds it until told it is done or asked to step
// aside, and publishes where it is through the state query: requested, holding, done.
func lockHolder(ctx workflow.Context, in lockHolderInput) error {
	var sa *platform.Signaller
	state := "starting"
	if err := workflow.SetQueryHandler(ctx, "state", func() (string, error) { return state, nil }); err != nil {
		return err
	}
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	granted := workflow.GetSignalChannel(ctx, api.LockGrantedSignal)
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("lock", time.Minute)),
		sa.SignalWithStart, platform.SignalWithStartInput{WorkflowID: in.LockID, WorkflowType: api.LockWorkflowName, TaskQueue: api.TaskQueue,
			Signal: api.LockAcquireSignal, SignalArg: LockRequest{Owner: id, Supersede: in.Supersede},
			StartArg: LockInput{Key: in.Key, CheckInterval: in.CheckInterval}}).Get(ctx, nil); err != nil {
		return err
	}
	defer func() {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		_ = workflow.SignalExternalWorkflow(dctx, in.LockID, "", api.LockReleaseSignal, LockRelease{Owner: id}).Get(dctx, nil)
	}()
	state = "requested"
	granted.Receive(ctx, nil)
	state = "holding"
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, doneSignal), func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
	sel.AddReceive(workflow.GetSignalChannel(ctx, api.SupersedeSignal), func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
	sel.Select(ctx)
	state = "done"
	return nil
}

// startHolder starts a lockHolder with the given ID.
func startHolder(t *testing.T, c client.Client, id string, in lockHolderInput) client.WorkflowRun {
	t.Helper()
	run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: api.TaskQueue}, lockHolderName, in)
	require.NoError(t, err)
	return run
}

// waitState waits until the lockHolder id reports state.
func waitState(t *testing.T, c client.Client, id, state string, within time.Duration) {
	t.Helper()
	var got string
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(context.Background(), id, "", "state")
		if err != nil {
			return false
		}
		return v.Get(&got) == nil && got == state
	}, within, 100*time.Millisecond, "%s: want state %q, last saw %q", id, state, got)
}
