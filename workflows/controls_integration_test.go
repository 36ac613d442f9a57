package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"golang.org/x/crypto/ssh"

	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/internal/signature"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestControlsOnADevServer runs the real Controls, Lock and Promote workflows and the real
// Signaller on a dev server, with one worker that is never restarted: a freeze stops a
// promotion at staging's door and it goes on when the freeze is lifted; a rollback pins the
// service, so the next promotion into staging is refused until someone unpins it.
func TestControlsOnADevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Temporal dev server; not part of -short")
	}
	c := devServer(t)
	alice := newSigner(t)
	cfg := &config.Config{People: map[string]config.Person{"alice": {Keys: []string{string(ssh.MarshalAuthorizedKey(alice.PublicKey()))}}, "bob": {}},
		Environments: []config.Environment{{Name: "staging", Promotion: config.Promotion{
			Approval: config.Approval{Approvers: []string{"alice", "bob"}, RequireSignatures: true}}}}}
	stubs := observedStubs()
	stg := staging()
	stubs["PlanPromotion"] = func(context.Context, policy.Input) (platform.PromotionOutput, error) {
		return platform.PromotionOutput{Envs: []policy.Env{stg}}, nil
	}
	stubs["ControlRules"] = func(_ context.Context, in platform.ControlRulesInput) (controls.Rules, error) {
		return controls.RulesFor(cfg, in.Env), nil
	}
	w := worker.New(c, api.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(Lock, workflowOptions(api.LockWorkflowName))
	w.RegisterActivity(&platform.Signaller{Client: c})
	registerStubs(w, stubs, nil)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	ctx := context.Background()
	sign := func(op string, req controls.Request) controls.Request {
		req.SignedAt = time.Now().UTC().Truncate(time.Second)
		sig, err := signature.Sign(req.Statement(op), alice)
		require.NoError(t, err)
		req.Signature = sig
		return req
	}

	t.Run("a freeze holds a promotion at the door until it is lifted", func(t *testing.T) {
		until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		_, err := sendControl(c, controls.OpFreeze, sign(controls.OpFreeze, controls.Request{Env: "staging", Who: "alice", Reason: "release party", Until: &until}))
		require.NoError(t, err)
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: api.PromoteID("time-service", "v1.2.3"), TaskQueue: api.TaskQueue},
			api.PromoteWorkflowName, api.PromoteInput{Service: "time-service", Tag: "v1.2.3", Requester: "carol"})
		require.NoError(t, err)
		want := "staging is frozen by alice until " + until.Format(time.RFC3339) + ": release party"
		require.Eventually(t, func() bool {
			st := promoteStatus(t, c, run.GetID())
			return st.Frozen == want && st.Environments[0].State == api.EnvFrozen
		}, time.Minute, 100*time.Millisecond)
		st, err := controls.Get(ctx, c, "staging")
		require.NoError(t, err)
		require.Equal(t, []controls.DoorRequest{{Owner: run.GetID(), Service: "time-service"}}, st.Waiting)

		_, err = sendControl(c, controls.OpUnfreeze, controls.Request{Env: "staging", Who: "alice"})
		require.ErrorContains(t, err, "staging requires signed requests", "unsigned, where the env's gates require signatures")
		_, err = sendControl(c, controls.OpUnfreeze, sign(controls.OpUnfreeze, controls.Request{Env: "staging", Who: "bob"}))
		require.ErrorContains(t, err, "bob has no SSH key in idp.yaml", "alice's signature under bob's name")
		res, err := sendControl(c, controls.OpUnfreeze, sign(controls.OpUnfreeze, controls.Request{Env: "staging", Who: "alice"}))
		require.NoError(t, err)
		require.Contains(t, res.Message, "staging unfrozen by alice")

		var done api.Status
		require.NoError(t, run.Get(ctx, &done), "the same worker carries it on: no restart")
		require.Equal(t, api.StageDone, done.Stage)
		require.Contains(t, done.Steps, "staging is no longer frozen: going on")
	})

	t.Run("a rollback pins; a promotion is refused until unpin", func(t *testing.T) {
		bad, _ := promoteOnce(t, c, "v1.2.4")
		require.Equal(t, api.EnvRolledBack, bad.Environments[0].State)
		st, err := controls.Get(ctx, c, "staging")
		require.NoError(t, err)
		require.Len(t, st.Pins, 1)
		pin := st.Pins[0]
		require.Equal(t, []string{"time-service", oldImg, controls.System, api.PromoteID("time-service", "v1.2.4")}, []string{pin.Service, pin.Image, pin.Who, pin.Run})

		asked, err := (&platform.Signaller{Client: c}).Pinned(ctx, platform.PinnedInput{Env: "staging", Service: "time-service"})
		require.NoError(t, err)
		require.True(t, asked.Pinned, "what an image watch asks before it promotes")
		require.Equal(t, oldImg, asked.Pin.Image)
		asked, err = (&platform.Signaller{Client: c}).Pinned(ctx, platform.PinnedInput{Env: "perf", Service: "time-service"})
		require.NoError(t, err, "an env whose Controls workflow never ran")
		require.False(t, asked.Pinned)

		refused, _ := promoteOnce(t, c, "v1.2.5")
		require.Equal(t, api.StageFailed, refused.Stage)
		require.Equal(t, api.EnvPinned, refused.Environments[0].State)
		require.Contains(t, refused.Error, "time-service is pinned to "+oldImg+" by idp (rollback)")
		var app *temporal.ApplicationError
		require.ErrorAs(t, c.GetWorkflow(ctx, api.PromoteID("time-service", "v1.2.5"), "").Get(ctx, nil), &app)
		require.Equal(t, api.ErrPinned, app.Type())

		_, err = sendControl(c, controls.OpUnpin, sign(controls.OpUnpin, controls.Request{Env: "staging", Who: "alice", Service: "time-service", Reason: "fixed in v1.2.6"}))
		require.NoError(t, err)
		ok, _ := promoteOnce(t, c, "v1.2.6")
		require.Equal(t, api.StageDone, ok.Stage)
	})

	t.Run("the workflow continues as new with its freezes and pins", func(t *testing.T) {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: controls.WorkflowID("qa"), TaskQueue: api.TaskQueue},
			api.ControlsWorkflowName, controls.State{Env: "qa", ContinueAfter: 40})
		require.NoError(t, err)
		for i := 0; i < 12; i++ {
			_, err := sendControl(c, controls.OpPin, controls.Request{Env: "qa", Who: controls.System, Run: "promote-x",
				Service: "svc-" + string(rune('a'+i)), Reason: "rolled back"})
			require.NoError(t, err)
		}
		desc, err := c.DescribeWorkflow(ctx, controls.WorkflowID("qa"), "")
		require.NoError(t, err)
		require.NotEqual(t, run.GetRunID(), desc.WorkflowExecution.RunID, "continued as new")
		st, err := controls.Get(ctx, c, "qa")
		require.NoError(t, err)
		require.Len(t, st.Pins, 12, "every pin carried over")
	})
}

// sendControl sends one change to env's Controls workflow as starter does, starting it when
// needed.
func sendControl(c client.Client, op string, req controls.Request) (controls.Result, error) {
	ctx := context.Background()
	start := c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{ID: controls.WorkflowID(req.Env), TaskQueue: api.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING}, api.ControlsWorkflowName, controls.State{Env: req.Env})
	var res controls.Result
	h, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{UpdateName: op, Args: []any{req}, WaitForStage: client.WorkflowUpdateStageCompleted}})
	if err == nil {
		err = h.Get(ctx, &res)
	}
	return res, err
}

// promoteStatus queries a promotion's status.
func promoteStatus(t *testing.T, c client.Client, id string) api.Status {
	t.Helper()
	var st api.Status
	v, err := c.QueryWorkflow(context.Background(), id, "", api.StatusQuery)
	if err != nil || v.Get(&st) != nil || len(st.Environments) == 0 {
		return api.Status{Environments: []api.EnvStatus{{}}}
	}
	return st
}
