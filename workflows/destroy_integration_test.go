package workflows

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
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

// busyPromotion stands in for a promotion into an env: it runs until signalled done.
func busyPromotion(ctx workflow.Context) error {
	workflow.GetSignalChannel(ctx, doneSignal).Receive(ctx, nil)
	return nil
}

// destroyStubs stand in for DestroyEnvironment's activities (OpenRuns is the real one): a
// staging env whose destroy plan needs approval. plans counts the plans made.
func destroyStubs(plans *atomic.Int32) map[string]any {
	p := destroyPlan(planSHA)
	return map[string]any{
		"Describe": func(context.Context, platform.DescribeInput) (platform.DescribeOutput, error) {
			return platform.DescribeOutput{Snapshot: stagingSnapshot, Commit: commit, AccountID: "470879558261", StateBucket: "state-staging",
				GitHubRole: "GitHubActionsRole", PlanApproval: approvalPolicy(1, "alice", "bob"), ArgoCDTimeout: time.Minute}, nil
		},
		"ApprovalKeys": func(_ context.Context, in platform.ApprovalKeysInput) (platform.ApprovalKeysOutput, error) {
			return platform.ApprovalKeysOutput{Approvers: in.Approvers, People: []platform.PersonKeys{}}, nil
		},
		"Plan": func(context.Context, terraform.PlanInput) (terraform.PlanOutput, error) {
			plans.Add(1)
			return p, nil
		},
		"UninstallArgoCD": func(context.Context, argocd.UninstallInput) (argocd.UninstallOutput, error) {
			return argocd.UninstallOutput{Apps: []string{"staging-apps"}, Removed: []string{"Namespace/argocd"}}, nil
		},
		"Apply": func(context.Context, terraform.ApplyInput) (terraform.ApplyOutput, error) {
			return terraform.ApplyOutput{Done: 2, Total: 2}, nil
		},
		"RemoveState": func(context.Context, aws.RemoveStateInput) (aws.RemoveStateOutput, error) {
			return aws.RemoveStateOutput{Bucket: "state-staging", Removed: []string{"s3://state-staging/entry/terraform.tfstate"}}, nil
		},
		"SharedAccount": func(context.Context, platform.SharedAccountInput) (platform.SharedAccountOutput, error) {
			return platform.SharedAccountOutput{Envs: []string{}, Role: []string{}}, nil
		},
		"RemoveGitHubOIDC": func(context.Context, aws.RemoveOIDCInput) (aws.RemoveOIDCOutput, error) {
			return aws.RemoveOIDCOutput{Removed: []string{"role GitHubActionsRole"}}, nil
		},
		"Send": func(context.Context, notify.Event) (notify.SendOutput, error) { return notify.SendOutput{}, nil },
	}
}

func startDestroyWorker(t *testing.T, c client.Client, stubs map[string]any) worker.Worker {
	t.Helper()
	w := worker.New(c, api.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(DestroyEnvironment, workflowOptions(api.DestroyWorkflowName))
	w.RegisterWorkflowWithOptions(Controls, workflowOptions(api.ControlsWorkflowName)) // the env's door
	w.RegisterWorkflowWithOptions(busyPromotion, workflowOptions("busyPromotion"))
	w.RegisterActivity(&platform.Signaller{Client: c})
	for name, fn := range stubs {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	require.NoError(t, w.Start())
	return w
}

// TestDestroyAgainstADevServer: a destroy is refused, by name, while a promotion runs into the
// env (found through the real visibility API); once it ended, a destroy waits for approval,
// its worker dies, and a new worker (no cache: it replays the history) takes the approval and
// finishes without planning again.
func TestDestroyAgainstADevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal dev server; not part of -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := devServer(t)
	var plans atomic.Int32
	first := startDestroyWorker(t, c, destroyStubs(&plans))
	sg := &platform.Signaller{Client: c}

	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "promote-time-service-v9.9.9", TaskQueue: api.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(api.AttrKind.ValueSet(api.KindPromote), api.AttrEnvironment.ValueSet("staging"))}, "busyPromotion")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		out, err := sg.OpenRuns(ctx, platform.OpenRunsInput{Env: "staging"})
		return err == nil && len(out.Runs) == 1
	}, time.Minute, 200*time.Millisecond, "the promotion shows in visibility")

	startDestroy := func() client.WorkflowRun {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: api.DestroyID("staging", 0), TaskQueue: api.TaskQueue,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			TypedSearchAttributes: temporal.NewSearchAttributes(api.AttrKind.ValueSet(api.KindDestroy), api.AttrEnvironment.ValueSet("staging"))},
			api.DestroyWorkflowName, api.DestroyInput{Env: "staging", Requester: "alice"})
		require.NoError(t, err)
		return run
	}
	err = startDestroy().Get(ctx, nil)
	require.ErrorContains(t, err, "refusing to destroy staging while 1 run(s) go into it: promote-time-service-v9.9.9 (promote)")
	require.Zero(t, plans.Load(), "nothing is planned while the env is busy")

	// A live preview of staging (its bootstrap run holds its TTL timer) lives in staging's
	// account and bucket: it blocks too. A preview of another env does not.
	for _, p := range []string{"staging-pr-3", "prod-pr-3"} {
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: api.BootstrapID(p), TaskQueue: api.TaskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(api.AttrKind.ValueSet(api.KindBootstrap), api.AttrEnvironment.ValueSet(p),
				api.AttrPreview.ValueSet(p))}, "busyPromotion")
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		out, err := sg.OpenRuns(ctx, platform.OpenRunsInput{Env: "staging"})
		return err == nil && len(out.Runs) == 2
	}, time.Minute, 200*time.Millisecond, "the preview shows in visibility")
	err = startDestroy().Get(ctx, nil)
	require.ErrorContains(t, err, "refusing to destroy staging while 2 run(s) go into it: bootstrap-staging-pr-3 (bootstrap), promote-time-service-v9.9.9 (promote)")
	for _, p := range []string{"staging-pr-3", "prod-pr-3"} {
		require.NoError(t, c.SignalWorkflow(ctx, api.BootstrapID(p), "", doneSignal, nil))
	}

	require.NoError(t, c.SignalWorkflow(ctx, "promote-time-service-v9.9.9", "", doneSignal, nil))
	require.Eventually(t, func() bool {
		out, err := sg.OpenRuns(ctx, platform.OpenRunsInput{Env: "staging"})
		return err == nil && len(out.Runs) == 0
	}, time.Minute, 200*time.Millisecond, "the promotion ended")

	run := startDestroy()
	waitStage(t, c, run.GetID(), api.StageWaitingApproval)
	first.Stop() // the worker dies while the run waits for its approval

	second := startDestroyWorker(t, c, destroyStubs(&plans))
	defer second.Stop()
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: run.GetID(), UpdateName: api.ApproveUpdate,
		Args: []any{api.ApproveInput{Who: "bob", Subject: planSHA}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	require.NoError(t, h.Get(ctx, nil))
	var st api.Status
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, api.StageDone, st.Stage)
	require.Equal(t, int32(1), plans.Load(), "the resumed run applies the plan it had, without planning again")
	require.Contains(t, st.Steps, "terraform destroy: 2 of 2 resources destroyed")
	require.Contains(t, st.Steps, "GitHub OIDC in account 470879558261: removed role GitHubActionsRole")
}

// waitStage waits until the run's status query reports stage.
func waitStage(t *testing.T, c client.Client, id string, stage api.Stage) {
	t.Helper()
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(context.Background(), id, "", api.StatusQuery)
		if err != nil {
			return false
		}
		var st api.Status
		return v.Get(&st) == nil && st.Stage == stage
	}, time.Minute, 200*time.Millisecond, "%s reaches %s", id, stage)
}
