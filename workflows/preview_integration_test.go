package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/notify"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/activities/terraform"
	"github.com/alexpermiakov/idp/workflows/api"
)

// previewStubs stand in for a preview bootstrap's activities, by their names: Describe derives
// dev-pr-7, the plan has no changes.
func previewStubs() map[string]any {
	return map[string]any{
		"Describe": func(_ context.Context, in platform.DescribeInput) (platform.DescribeOutput, error) {
			return platform.DescribeOutput{Snapshot: previewSnapshot, Commit: commit, StateBucket: "state-dev"}, nil
		},
		"EnsureStateBackend": func(context.Context, aws.StateBackendInput) (aws.StateBackendOutput, error) {
			return aws.StateBackendOutput{Bucket: "state-dev"}, nil
		},
		"EnsureGitHubOIDC": func(context.Context, aws.OIDCInput) (aws.OIDCOutput, error) { return aws.OIDCOutput{}, nil },
		"Plan": func(context.Context, terraform.PlanInput) (terraform.PlanOutput, error) {
			return terraform.PlanOutput{Summary: terraform.Summary{SHA256: planSHA}}, nil
		},
		"InstallArgoCD": func(context.Context, argocd.InstallInput) (argocd.InstallOutput, error) {
			return argocd.InstallOutput{}, nil
		},
		"WaitArgoCD": func(context.Context, argocd.WaitInput) (argocd.WaitOutput, error) { return argocd.WaitOutput{}, nil },
		"Send":       func(context.Context, notify.Event) (notify.SendOutput, error) { return notify.SendOutput{}, nil },
	}
}

// TestAPreviewIsListedThenExpiresOnTheDevServer runs a preview's bootstrap on a real Temporal
// dev server with a short TTL: while it lives, visibility lists it (IdpPreview) with when it
// expires (IdpExpiresAt); at the TTL it starts DestroyEnvironment (a stand-in registered by
// that name) and ends, and the destroy outlives it.
func TestAPreviewIsListedThenExpiresOnTheDevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Temporal dev server; not part of -short")
	}
	c := devServer(t)
	previewWorker(t, c)
	ctx := context.Background()
	id := api.PreviewID("dev", 7)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: api.TaskQueue,
		TypedSearchAttributes: temporalAttrs("dev-pr-7")}, api.BootstrapWorkflowName,
		api.BootstrapInput{Env: "dev", PR: 7, TTL: 8 * time.Second, Requester: "alice"})
	require.NoError(t, err)

	var listed map[string]string
	require.Eventually(t, func() bool {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: "IdpPreview IS NOT NULL AND ExecutionStatus = 'Running' AND IdpExpiresAt IS NOT NULL"})
		if err != nil || len(resp.Executions) != 1 {
			return false
		}
		listed = map[string]string{}
		for k, p := range resp.Executions[0].GetSearchAttributes().GetIndexedFields() {
			var s string
			if converter.GetDefaultDataConverter().FromPayload(p, &s) == nil {
				listed[k] = s
			}
		}
		return resp.Executions[0].GetExecution().GetWorkflowId() == id
	}, 30*time.Second, 200*time.Millisecond, "the live preview is listed with its expiry")
	require.Equal(t, "dev-pr-7", listed["IdpPreview"])
	expires, err := time.Parse(time.RFC3339, listed["IdpExpiresAt"])
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(8*time.Second), expires, 8*time.Second)

	var st api.Status
	require.NoError(t, run.Get(ctx, &st), "the preview's run ends at its TTL")
	require.Equal(t, api.DestroyID("dev", 7), st.Preview.Destroy)
	require.False(t, time.Now().Before(expires.Add(-time.Second)), "not before the TTL")

	var in api.DestroyInput
	require.NoError(t, c.GetWorkflow(ctx, api.DestroyID("dev", 7), "").Get(ctx, &in), "the destroy outlives the preview's run")
	require.Equal(t, api.DestroyInput{Env: "dev", PR: 7, Requester: "alice"}, in)
	desc, err := c.DescribeWorkflow(ctx, api.DestroyID("dev", 7), "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, desc.Status)
}

// previewWorker runs BootstrapEnvironment and Controls with previewStubs, the real Signaller,
// and a stand-in DestroyEnvironment that returns its input.
func previewWorker(t *testing.T, c client.Client) {
	t.Helper()
	lockWorker(t, c, func(w worker.Worker) {
		w.RegisterWorkflowWithOptions(BootstrapEnvironment, workflowOptions(api.BootstrapWorkflowName))
		w.RegisterWorkflowWithOptions(Controls, workflowOptions(api.ControlsWorkflowName))
		w.RegisterWorkflowWithOptions(func(ctx workflow.Context, in api.DestroyInput) (api.DestroyInput, error) {
			return in, workflow.Sleep(ctx, time.Second)
		}, workflow.RegisterOptions{Name: api.DestroyWorkflowName})
		for name, fn := range previewStubs() {
			w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
		}
	})
}

func temporalAttrs(preview string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(api.AttrKind.ValueSet(api.KindBootstrap), api.AttrEnvironment.ValueSet(preview),
		api.AttrPreview.ValueSet(preview))
}
