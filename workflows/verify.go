package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

// degradedFor is how long an app must stay Degraded at our commit before it counts as failed.
const degradedFor = 15 * time.Second

// verify has Argo CD carry the commit into the cluster and waits until the app runs image,
// Synced and Healthy at that commit: first the env's app-of-apps, which applies the app's new
// definition, then the app itself.
func (p *promotion) verify(ctx workflow.Context, e policy.Env, written git.WriteImageOutput, image string) error {
	var ar *argocd.Activities
	p.setStage(ctx, api.StageVerifying)
	p.env(e.Name).State = api.EnvVerifying
	if p.lean {
		// One activity: the app-of-apps at the commit, then the app.
		return p.waitApp(ctx, e, written, e.App, e.Root, image)
	}
	for _, app := range []struct{ name, image string }{{e.Root, ""}, {e.App, image}} {
		if !p.local {
			if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("refresh "+app.name, time.Minute)),
				ar.RefreshApp, argocd.AppInput{Snapshot: e.Snapshot, App: app.name}).Get(ctx, nil); err != nil {
				return err
			}
		}
		if err := p.waitApp(ctx, e, written, app.name, "", app.image); err != nil {
			return err
		}
	}
	return nil
}

// waitApp runs WaitApp over app in e at the written commit, after root when root is set; runs
// with local reads leave the refresh to the wait (Refresh), one activity fewer.
func (p *promotion) waitApp(ctx workflow.Context, e policy.Env, written git.WriteImageOutput, app, root, image string) error {
	var ar *argocd.Activities
	summary, waits := "wait until "+app+" is Healthy at "+short(written.Commit), 1
	if root != "" {
		summary, waits = "wait until "+root+", then "+app+", is Healthy at "+short(written.Commit), 2
	}
	opts := activityOptions(summary, time.Duration(waits)*e.HealthTimeout+2*time.Minute)
	// Heartbeats reach the server every 0.8 × HeartbeatTimeout at most: short enough for
	// starter status to show "Argo CD unreachable since …" while it lasts.
	opts.HeartbeatTimeout = 30 * time.Second
	// Argo CD away until the timeout (ErrUnreachable), or too busy to bring the app to the
	// commit in time (ErrNotApplied), says nothing about the release: it fails the step, and
	// undo rolls back only what Argo CD saw fail.
	opts.RetryPolicy.NonRetryableErrorTypes = []string{argocd.ErrDegraded, argocd.ErrHealthTimeout, argocd.ErrReplaced, argocd.ErrUnreachable, argocd.ErrNotApplied}
	var out argocd.WaitAppOutput
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), ar.WaitApp, argocd.WaitAppInput{
		Snapshot: e.Snapshot, App: app, Root: root, Commit: written.Commit, Since: written.Written, Timeout: e.HealthTimeout, Image: image,
		DegradedFor: degradedFor, ManifestPath: policy.ManifestPath(e.Name, p.in.Service), Refresh: p.local}).Get(ctx, &out)
}
