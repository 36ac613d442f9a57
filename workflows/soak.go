package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/notify"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

// soakWatched is the version of Promote whose soak watches the Application (the Soak
// activity) and skips the last env of the run; before it, a soak was a timer after every env.
const soakWatched = 1

// soak watches e's Application for e.Soak once our image is Healthy there, before the run goes
// on to the next env: it must stay Healthy at our image. A failure during the soak rolls back as
// a failed verification does; a later change that replaced our image ends it as fail.Replaced.
// The last env of the run is not soaked: nothing waits for it.
func (p *promotion) soak(ctx workflow.Context, e policy.Env, previous string, last bool) error {
	if e.Soak <= 0 {
		return nil
	}
	es := p.env(e.Name)
	if p.since(ctx, "soak-watch", soakWatched) < soakWatched {
		es.State = api.EnvSoaking
		p.setStage(ctx, api.StageSoaking)
		// The timer workflow.Sleep starts, named for the Web UI's timeline.
		return workflow.NewTimerWithOptions(ctx, e.Soak, workflow.TimerOptions{Summary: soakSummary(e.Name, e.Soak)}).Get(ctx, nil)
	}
	if last {
		p.step(ctx, "%s is the last env of this run: no soak (promotion.soak %s applies before going on from it)", e.Name, e.Soak)
		return nil
	}
	until := workflow.Now(ctx).Add(e.Soak)
	es.State, es.SoakUntil = api.EnvSoaking, &until
	p.setStage(ctx, api.StageSoaking)
	p.step(ctx, "%s: watching %s for %s (until %s) before going on", e.Name, e.App, e.Soak, until.UTC().Format(time.RFC3339))
	err := p.watch(ctx, e, es.Commit)
	es.SoakUntil = nil
	if err != nil {
		p.oursFailed(ctx, e, err)
		return p.undo(ctx, e, previous, err, "did not stay healthy")
	}
	return nil
}

// watch runs the Soak activity over e's Application at commit.
func (p *promotion) watch(ctx workflow.Context, e policy.Env, commit string) error {
	var ar *argocd.Activities
	unhealthyFor := max(e.HealthTimeout, degradedFor)
	opts := activityOptions(fmt.Sprintf("%s: %s stays Healthy at %s", soakSummary(e.Name, e.Soak), e.App, short(p.image.Digest)), e.Soak+unhealthyFor+2*time.Minute)
	opts.HeartbeatTimeout = time.Minute
	opts.RetryPolicy.NonRetryableErrorTypes = []string{argocd.ErrDegraded, argocd.ErrReplaced}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), ar.Soak, argocd.SoakInput{
		Snapshot: e.Snapshot, App: e.App, Commit: commit, Image: p.pinned(), ManifestPath: policy.ManifestPath(e.Name, p.in.Service),
		Duration: e.Soak, DegradedFor: degradedFor, UnhealthyFor: unhealthyFor}).Get(ctx, nil)
}

// undo answers a failed check of our image in e (verification, or the soak that followed it):
// a failure of its health (Degraded, unhealthy too long) rolls back to previous, the image the
// env ran before; anything else, fail.Replaced among them (a later change owns the env now), is
// returned as it is. what says what the image did wrong ("did not become healthy").
func (p *promotion) undo(ctx workflow.Context, e policy.Env, previous string, err error, what string) error {
	switch {
	case !fail.Is(err, argocd.ErrDegraded) && !fail.Is(err, argocd.ErrHealthTimeout):
		return err
	case previous == "" || previous == p.pinned():
		return err
	}
	return p.rollback(ctx, e, previous, err, what)
}

// rollback puts the previous image back with a new commit, waits until it is Healthy again,
// and returns the failure that caused it.
func (p *promotion) rollback(ctx workflow.Context, e policy.Env, previous string, cause error, what string) error {
	var ga *git.Activities
	es := p.env(e.Name)
	p.setStage(ctx, api.StageRollingBack)
	es.State = api.EnvRollingBack
	p.step(ctx, "%s %s is not healthy in %s: rolling back to %s", p.in.Service, p.in.Tag, e.Name, previous)
	msg := fmt.Sprintf("roll back %s in %s to %s\n\n%s %s %s: %s\nworkflow: %s",
		p.in.Service, e.Name, previous, p.in.Service, p.in.Tag, what, fail.Message(cause), workflow.GetInfo(ctx).WorkflowExecution.ID)
	var written git.WriteImageOutput
	// Compare-and-swap: the previous image goes back only over our own, never over a newer
	// promotion that landed meanwhile.
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, gitWriteOptions("roll back "+e.App)),
		ga.WriteImage, git.WriteImageInput{Env: e.Name, Service: p.in.Service, Image: previous, Expect: p.pinned(), Message: msg}).Get(ctx, &written)
	if fail.Is(err, fail.Replaced) {
		es.State = api.EnvFailed
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s %s %s in %s: %s; not rolled back: %s",
			p.in.Service, p.in.Tag, what, e.Name, fail.Message(cause), fail.Message(err)), api.ErrNotRolledBack, cause)
	}
	if err != nil {
		return errors.Join(cause, fmt.Errorf("rolling back %s: %w", e.Name, err))
	}
	p.observeRollback(ctx, e.Name)
	p.deployment(ctx, e, written.Commit, previous, "", git.DeployInProgress, "rollback to "+previous)
	if err := p.verify(ctx, e, written, previous); err != nil {
		p.deployment(ctx, e, written.Commit, previous, "", git.DeployFailure, fail.Message(err))
		es.State = api.EnvFailed
		return fail.New(api.ErrRolledBack, "%s %s failed in %s (%s), and the rollback to %s is not healthy either: %s",
			p.in.Service, p.in.Tag, e.Name, fail.Message(cause), previous, fail.Message(err))
	}
	p.deployment(ctx, e, written.Commit, previous, "", git.DeploySuccess, "rolled back: Synced and Healthy")
	p.ours(ctx, e, git.DeployInactive, "rolled back to "+previous)
	es.State, es.Image, es.Commit = api.EnvRolledBack, previous, written.Commit
	p.notifyf(ctx, notify.RolledBack, e.Name, "%s %s %s in %s (%s): rolled back to %s", p.in.Service, p.in.Tag, what, e.Name, fail.Message(cause), previous)
	p.pinAfterRollback(ctx, e, previous, cause)
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s %s %s in %s: %s; rolled back to %s",
		p.in.Service, p.in.Tag, what, e.Name, fail.Message(cause), previous), api.ErrRolledBack, cause)
}
