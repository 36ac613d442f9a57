//go:build record

package workflows

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/workflows/api"
)

// TestRecordDestroyHistory records a destroy of staging for TestReplayRecordedHistories: it
// passes the env's door, waits for the destroy plan's approval, is approved by bob and
// removes everything. Run it like TestRecordHistories:
//
//	go test -tags record -count=1 -run TestRecordDestroyHistory ./workflows
func TestRecordDestroyHistory(t *testing.T) {
	c := devServer(t)
	var plans atomic.Int32
	w := startDestroyWorker(t, c, destroyStubs(&plans))
	defer w.Stop()
	ctx := context.Background()
	id := api.DestroyID("staging", 0)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: api.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(api.AttrKind.ValueSet(api.KindDestroy), api.AttrEnvironment.ValueSet("staging"))},
		api.DestroyWorkflowName, api.DestroyInput{Env: "staging", Requester: "alice"})
	require.NoError(t, err)
	waitStage(t, c, id, api.StageWaitingApproval)
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: api.ApproveUpdate,
		Args: []any{api.ApproveInput{Who: "bob", Subject: planSHA}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	require.NoError(t, h.Get(ctx, nil))
	var st api.Status
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, api.StageDone, st.Stage)
	writeHistory(t, c, id, "destroy-staging-door-approved.json")
}
