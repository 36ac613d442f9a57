//go:build record

package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestRecordFailedPreviewHistory records a preview whose bootstrap fails after terraform ran
// (Argo CD never turns Healthy), so it starts its destroy at once, for
// TestReplayRecordedHistories:
//
//	go test -tags record -count=1 -run TestRecordFailedPreviewHistory ./workflows
func TestRecordFailedPreviewHistory(t *testing.T) {
	c := devServer(t)
	stubs := previewStubs()
	stubs["WaitArgoCD"] = func(context.Context, argocd.WaitInput) (argocd.WaitOutput, error) {
		return argocd.WaitOutput{}, temporal.NewNonRetryableApplicationError("dev-pr-7-apps: OutOfSync/Healthy after 5m0s", "ArgoCDTimeout", nil)
	}
	lockWorker(t, c, func(w worker.Worker) {
		w.RegisterWorkflowWithOptions(BootstrapEnvironment, workflowOptions(api.BootstrapWorkflowName))
		w.RegisterWorkflowWithOptions(Controls, workflowOptions(api.ControlsWorkflowName))
		w.RegisterWorkflowWithOptions(func(ctx workflow.Context, in api.DestroyInput) (api.DestroyInput, error) {
			return in, workflow.Sleep(ctx, time.Second)
		}, workflow.RegisterOptions{Name: api.DestroyWorkflowName})
		for name, fn := range stubs {
			w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
		}
	})
	ctx := context.Background()
	id := api.PreviewID("dev", 7)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: api.TaskQueue,
		TypedSearchAttributes: temporalAttrs("dev-pr-7")}, api.BootstrapWorkflowName,
		api.BootstrapInput{Env: "dev", PR: 7, TTL: time.Hour, Requester: "alice"})
	require.NoError(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(run.Get(ctx, nil), &appErr), "the bootstrap fails")
	var in api.DestroyInput
	require.NoError(t, c.GetWorkflow(ctx, api.DestroyID("dev", 7), "").Get(ctx, &in), "its destroy started")
	writeHistory(t, c, id, "bootstrap-dev-pr-7-failed-destroyed.json")
}
