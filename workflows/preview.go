package workflows

import (
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/workflows/api"
)

// previewLife holds an up preview until its TTL runs out or someone asks for its end, then
// starts DestroyEnvironment for it and ends. The timer is durable: a worker restart, or no
// worker at all for a while, does not lose it. An extend signal resets it to its TTL from
// the moment the signal is handled; one that came while the preview was still being
// bootstrapped is handled as soon as it is up.
func previewLife(ctx workflow.Context, r *run, in api.BootstrapInput) (api.Status, error) {
	if r.status.Preview == nil {
		r.status.Preview = &api.PreviewStatus{Env: in.EnvName(), Base: in.Env, PR: in.PR}
	}
	p := r.status.Preview
	ttl := in.TTL
	if ttl <= 0 {
		ttl = api.DefaultPreviewTTL
	}
	extend := workflow.GetSignalChannel(ctx, api.ExtendSignal)
	destroy := workflow.GetSignalChannel(ctx, api.DestroySignal)
	expires := workflow.Now(ctx).Add(ttl).UTC()
	r.setExpiry(ctx, expires)
	r.step(ctx, "preview %s expires at %s", p.Env, expires.Format(time.RFC3339))
	why, who := "", r.status.Requester
	var asked *api.DestroyInput
	for why == "" {
		timerCtx, cancel := workflow.WithCancel(ctx)
		timer := workflow.NewTimer(timerCtx, expires.Sub(workflow.Now(ctx)))
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(timer, func(f workflow.Future) {
			if f.Get(ctx, nil) == nil {
				why = "its time to live ran out"
			}
		})
		sel.AddReceive(extend, func(c workflow.ReceiveChannel, _ bool) {
			var ext api.ExtendInput
			c.Receive(ctx, &ext)
			if ext.TTL <= 0 {
				r.step(ctx, "extend signal from %s ignored: its TTL must be above 0", ext.Who)
				return
			}
			expires = workflow.Now(ctx).Add(ext.TTL).UTC()
			r.setExpiry(ctx, expires)
			r.step(ctx, "preview %s extended by %s: expires at %s", p.Env, ext.Who, expires.Format(time.RFC3339))
		})
		sel.AddReceive(destroy, func(c workflow.ReceiveChannel, _ bool) {
			var req api.DestroyRequest
			c.Receive(ctx, &req)
			why, who = "destroy requested by "+req.Who, req.Who
			if req.Input != nil && req.Input.Env == in.Env && req.Input.PR == in.PR {
				asked = req.Input
			}
		})
		sel.Select(ctx)
		cancel()
	}
	child := api.DestroyInput{Env: in.Env, PR: in.PR, Requester: who}
	if asked != nil {
		child = *asked
	}
	return *r.status, startPreviewDestroy(ctx, r, child, why)
}

// destroyFailedPreview starts the destroy of a preview whose bootstrap failed once terraform
// had run for it: what it created would otherwise stay until someone remembered it. A
// preview that failed earlier (a refused request, a bad config) created nothing.
func destroyFailedPreview(ctx workflow.Context, r *run, in api.BootstrapInput, cause error) {
	if in.PR <= 0 || r.status.Plan == nil || r.status.Preview == nil {
		return
	}
	if workflow.GetVersion(ctx, "preview-failed-destroy", workflow.DefaultVersion, 1) < 1 {
		return
	}
	why := "its bootstrap failed (" + fail.Message(cause) + ")"
	if err := startPreviewDestroy(ctx, r, api.DestroyInput{Env: in.Env, PR: in.PR, Requester: r.status.Requester}, why); err != nil {
		workflow.GetLogger(ctx).Error("starting the failed preview's destroy", "error", err)
	}
}

// setExpiry records when the preview expires in its status and IdpExpiresAt.
func (r *run) setExpiry(ctx workflow.Context, t time.Time) {
	r.status.Preview.ExpiresAt = &t
	if err := workflow.UpsertTypedSearchAttributes(ctx, api.AttrExpiresAt.ValueSet(t.Format(time.RFC3339))); err != nil {
		workflow.GetLogger(ctx).Warn("upserting IdpExpiresAt", "error", err)
	}
}

// startPreviewDestroy starts DestroyEnvironment for the preview, by its type name, as a child
// that outlives this run (ABANDON): the destroy has its own approvals and retries, and this
// run's job ends once it has started. A destroy of the preview already running (started by
// `starter destroy --pr`) counts as started. At expiry the destroy's requester is the preview's:
// they asked for a preview that long.
func startPreviewDestroy(ctx workflow.Context, r *run, in api.DestroyInput, why string) error {
	p := r.status.Preview
	id := api.DestroyID(in.Env, in.PR)
	r.step(ctx, "preview %s ends: %s; starting %s", p.Env, why, id)
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            id,
		TaskQueue:             api.TaskQueue,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:         fmt.Sprintf("destroy preview %s (%s)", p.Env, why),
		TypedSearchAttributes: temporal.NewSearchAttributes(api.AttrKind.ValueSet(api.KindDestroy),
			api.AttrEnvironment.ValueSet(p.Env), api.AttrStage.ValueSet(string(api.StagePreparing))),
	})
	child := workflow.ExecuteChildWorkflow(cctx, api.DestroyWorkflowName, in)
	var started workflow.Execution
	err := child.GetChildWorkflowExecution().Get(ctx, &started)
	if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		p.Destroy = id
		r.step(ctx, "%s was already running", id)
		return nil
	}
	if err != nil {
		return r.failed(ctx, fmt.Errorf("starting %s: %w", id, err))
	}
	p.Destroy = id
	r.step(ctx, "started %s (run %s)", id, started.RunID)
	return nil
}

// dropEnv removes the named env's entry from the status.
func (r *run) dropEnv(name string) {
	envs := r.status.Environments[:0]
	for _, e := range r.status.Environments {
		if e.Name != name {
			envs = append(envs, e)
		}
	}
	r.status.Environments = envs
}

// notePreview records, for a preview's run, what Describe derived for it.
func (r *run) notePreview(ctx workflow.Context, in api.BootstrapInput, desc platform.DescribeOutput) {
	p := desc.Snapshot.Env.Preview
	if in.PR <= 0 || p == nil {
		return
	}
	e := desc.Snapshot.Env
	r.status.Preview = &api.PreviewStatus{Env: e.Name, Base: in.Env, PR: in.PR, Branch: p.Branch}
	r.step(ctx, "preview %s of %s: pull request %d at %s, cluster %s, state key %s", e.Name, in.Env, in.PR, p.Branch,
		e.ClusterName, e.StateKey)
}
