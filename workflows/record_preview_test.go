//go:build record

package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/workflows/api"
)

// TestRecordPreviewHistory records a preview's bootstrap for TestReplayRecordedHistories: it
// comes up, is extended once, expires and starts DestroyEnvironment. Run it like
// TestRecordHistories:
//
//	go test -tags record -count=1 -run TestRecordPreviewHistory ./workflows
func TestRecordPreviewHistory(t *testing.T) {
	c := devServer(t)
	previewWorker(t, c)
	ctx := context.Background()
	id := api.PreviewID("dev", 7)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: api.TaskQueue,
		TypedSearchAttributes: temporalAttrs("dev-pr-7")}, api.BootstrapWorkflowName,
		api.BootstrapInput{Env: "dev", PR: 7, TTL: time.Hour, Requester: "alice"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(ctx, id, "", api.StatusQuery)
		var st api.Status
		return err == nil && v.Get(&st) == nil && st.Preview != nil && st.Preview.ExpiresAt != nil
	}, 30*time.Second, 100*time.Millisecond)
	require.NoError(t, c.SignalWorkflow(ctx, id, "", api.ExtendSignal, api.ExtendInput{TTL: 3 * time.Second, Who: "bob"}))
	var st api.Status
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, api.DestroyID("dev", 7), st.Preview.Destroy)
	writeHistory(t, c, id, "bootstrap-dev-pr-7-extended-expired.json")
}
