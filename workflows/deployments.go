package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/policy"
)

// GitHub Deployments: with the github provider, each env step of a promotion is a deployment
// of the platform commit that carries the image (environment = the env's name), whose status
// follows the step: in_progress once written, success when Healthy, failure when it is not, and
// inactive once a rollback replaced it; the rollback commit is a deployment of its own. The
// statuses go through the run's outbox (tell.go): in order, never holding up or failing the
// promotion.

// deployment queues state for this run's deployment of commit (carrying image, of tag) to e.
func (p *promotion) deployment(ctx workflow.Context, e policy.Env, commit, image, tag, state, description string) {
	if e.Snapshot.Repository.Provider != "github" || commit == "" {
		return
	}
	d := git.Deployment{Env: e.Name, Commit: commit, WorkflowID: p.status.WorkflowID, Service: p.in.Service,
		Tag: tag, Image: image}
	if image == p.pinned() {
		d.Digest = p.image.Digest
	}
	p.tell(ctx, "deployment "+state+" in "+e.Name, func(ctx workflow.Context) error {
		var ga *git.Activities
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, notifyOptions("GitHub deployment in "+e.Name+": "+state)),
			ga.RecordDeployment, git.DeploymentInput{Deployment: d, State: state, Description: description}).Get(ctx, nil)
	})
}

// ours queues state for this run's own image in e, at the commit that wrote it.
func (p *promotion) ours(ctx workflow.Context, e policy.Env, state, description string) {
	p.deployment(ctx, e, p.env(e.Name).Commit, p.pinned(), p.in.Tag, state, description)
}

// oursFailed marks our deployment in e as err left it: replaced by a later change (inactive)
// or failed.
func (p *promotion) oursFailed(ctx workflow.Context, e policy.Env, err error) {
	if fail.Is(err, fail.Replaced) {
		p.ours(ctx, e, git.DeployInactive, "replaced by a later change")
		return
	}
	p.ours(ctx, e, git.DeployFailure, fail.Message(err))
}
