package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/notify"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

// promotion is one Promote run's state beyond the status document.
type promotion struct {
	*run
	in           api.PromoteInput
	image        aws.ResolveOutput
	supersededBy string
	// passed lists envs where this digest ran Healthy in this run.
	passed map[string]bool
}

// Promote takes one image, by digest, through the environments: for each, it waits for the
// (service, env) lock, respects a freeze, passes the approval gate when policy asks, writes
// the image into Git (a direct commit, or a branch merged after approval), has Argo CD sync
// it and waits until it is Healthy at that commit, and soaks before going on. An image that
// does not become healthy is rolled back and the promotion fails with Argo CD's message.
func Promote(ctx workflow.Context, in api.PromoteInput) (api.Status, error) {
	r, err := newRun(ctx, api.KindPromote, in.Requester)
	if err != nil {
		return api.Status{}, err
	}
	r.status.Service, r.status.Version = in.Service, in.Tag
	r.useLocalReads(ctx)
	p := &promotion{run: r, in: in, passed: map[string]bool{}}
	g, err := newGate(ctx, r)
	if err != nil {
		return api.Status{}, err
	}
	g.abort = func() error {
		if p.supersededBy != "" {
			return fail.New(api.ErrSuperseded, "superseded by %s", p.supersededBy)
		}
		return nil
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		ch := workflow.GetSignalChannel(ctx, api.SupersedeSignal)
		for {
			var req SupersedeRequest
			ch.Receive(ctx, &req)
			if r.status.Stage == api.StageWaitingApproval {
				p.supersededBy = req.By
			} else {
				r.step(ctx, "%s asked to supersede this run; not waiting for an approval, so it goes on", req.By)
			}
		}
	})
	if err := p.promote(ctx, g); err != nil {
		if p.supersededBy != "" {
			r.status.SupersededBy = p.supersededBy
		}
		err = r.failed(ctx, err)
		p.notifyFailed(ctx, err)
		r.drain(ctx)
		return *r.status, err
	}
	r.setStage(ctx, api.StageDone)
	r.drain(ctx)
	return *r.status, nil
}

func (p *promotion) promote(ctx workflow.Context, g *gate) error {
	var (
		pa *platform.Activities
		ea *aws.Activities
	)
	p.setStage(ctx, api.StagePreparing)
	if err := checkRequest(ctx, p.run, signedRequest{Requester: p.in.Requester, Signature: p.in.Signature,
		Statement: p.in.Statement(p.status.WorkflowID)}); err != nil {
		return err
	}
	var path platform.PromotionOutput
	if err := p.quick(ctx, "plan the promotion of "+p.in.Service+" "+p.in.Tag, time.Minute,
		pa.PlanPromotion, policy.Input{Service: p.in.Service, Tag: p.in.Tag, To: p.in.To}).Get(ctx, &path); err != nil {
		return err
	}
	for _, e := range path.Envs {
		p.env(e.Name)
		if p.lean {
			p.out.listen(e.Name, e.Snapshot.Env.Notify)
		}
	}
	if err := p.quick(ctx, "resolve "+p.in.Tag+" in ECR", time.Minute,
		ea.ResolveImage, aws.ResolveInput{Service: p.in.Service, Tag: p.in.Tag, Tooling: path.Tooling}).Get(ctx, &p.image); err != nil {
		return err
	}
	p.status.Digest = p.image.Digest
	p.step(ctx, "%s is %s", p.image.Image, p.image.Digest)
	for i, e := range path.Envs {
		err := p.promoteEnv(ctx, g, e, i == len(path.Envs)-1)
		p.observeEnv(ctx, e.Name, err)
		if errors.Is(err, errSuperseded) {
			return nil
		} else if err != nil {
			return err
		}
	}
	return nil
}

// errSuperseded ends a promotion whose image a later change replaced in an env: there is
// nothing of it left to verify, roll back or carry further.
var errSuperseded = errors.New("superseded in an env by a later change")

// promoteEnv takes the image into e; last says e is the last env of the run, where no soak
// follows.
func (p *promotion) promoteEnv(ctx workflow.Context, g *gate, e policy.Env, last bool) error {
	es := p.env(e.Name)
	p.setEnv(ctx, e.Name)

	// One promotion per service per env at a time.
	release, err := p.requestLock(ctx, e)
	if err != nil {
		return err
	}
	defer release() // even when the run is failing or cancelled
	p.awaitLock(ctx, e)

	if err := p.admit(ctx, e); err != nil {
		return err
	}

	current, err := p.deploy(ctx, g, e)
	if err == nil {
		p.observeHealthy(ctx, e.Name)
		err = p.soak(ctx, e, current, last)
	}
	if fail.Is(err, fail.Replaced) {
		es.State = api.EnvSuperseded
		p.step(ctx, "%s: %s; this promotion stops here, neither failed nor rolled back", e.Name, fail.Message(err))
		return errSuperseded
	}
	if err != nil {
		if es.State != api.EnvRolledBack {
			es.State = api.EnvFailed
		}
		return err
	}
	p.passed[e.Name] = true
	es.State = api.EnvDone
	p.step(ctx, "%s runs %s at %s (was %s)", e.Name, p.in.Tag, short(es.Commit), current)
	p.notifyf(ctx, notify.Promoted, e.Name, "%s %s is live in %s: Healthy at %s (was %s)", p.in.Service, p.in.Tag, e.Name, short(es.Commit), current)
	return nil
}

// admit lets the image into e, or says why not: a freeze in idp.yaml, a freeze or pin people
// declared (waiting while a freeze lasts), or an env it must have passed first.
func (p *promotion) admit(ctx workflow.Context, e policy.Env) error {
	var pa *platform.Activities
	es := p.env(e.Name)
	var freeze platform.FreezeOutput
	if err := p.quick(ctx, "freeze in "+e.Name+"?", time.Minute,
		pa.CheckFreeze, platform.FreezeInput{Env: e.Name}).Get(ctx, &freeze); err != nil {
		return err
	}
	if freeze.Frozen {
		es.State = api.EnvFrozen
		return fail.New(api.ErrFrozen, "%s is frozen (promotion.freeze in idp.yaml): %s %s was not deployed there", e.Name, p.in.Service, p.in.Tag)
	}
	// The freezes and pins people declare at run time (starter freeze, pin) and rollbacks leave.
	if pin, err := p.door(ctx, e.Name, p.in.Service); err != nil {
		return err
	} else if pin != nil {
		return p.refusePinned(e, pin)
	}
	if r := e.RequirePassed; r != "" && !p.passed[r] {
		if err := p.checkPassed(ctx, e); err != nil {
			es.State = api.EnvFailed
			return err
		}
	}
	return nil
}

// requestLock asks the (service, env) lock workflow for the lock, starting it when needed; the
// returned release gives the lock back (or drops the request) from a disconnected context.
func (p *promotion) requestLock(ctx workflow.Context, e policy.Env) (func(), error) {
	var sa *platform.Signaller
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	lockID, key := api.LockID(p.in.Service, e.Name), policy.LockKey(p.in.Service, e.Name)
	p.env(e.Name).State = api.EnvWaitingLock
	p.lockWait = &lockWait{key: key, id: lockID}
	p.publish(ctx)
	if err := p.quick(ctx, "ask for lock "+key, time.Minute,
		sa.SignalWithStart, platform.SignalWithStartInput{WorkflowID: lockID, WorkflowType: api.LockWorkflowName, TaskQueue: api.TaskQueue,
			Signal: api.LockAcquireSignal, SignalArg: LockRequest{Owner: id, Supersede: p.in.Supersede},
			StartArg: LockInput{Key: key}, Summary: "lock " + key + ": one promotion at a time"}).Get(ctx, nil); err != nil {
		return nil, err
	}
	return func() {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		_ = workflow.SignalExternalWorkflow(dctx, lockID, "", api.LockReleaseSignal, LockRelease{Owner: id}).Get(dctx, nil)
	}, nil
}

// awaitLock waits until the lock workflow grants this env's lock.
func (p *promotion) awaitLock(ctx workflow.Context, e policy.Env) {
	granted := workflow.GetSignalChannel(ctx, api.LockGrantedSignal)
	for {
		var grant LockGrant
		granted.Receive(ctx, &grant)
		if grant.Key == policy.LockKey(p.in.Service, e.Name) {
			p.lockWait = nil
			p.publish(ctx)
			return
		}
	}
}

// deploy writes the image, gets it approved where policy asks, and verifies it; it returns
// the image it replaced.
func (p *promotion) deploy(ctx workflow.Context, g *gate, e policy.Env) (string, error) {
	es := p.env(e.Name)
	if err := p.recheckDigest(ctx, e); err != nil {
		return "", err
	}
	previous, err := p.recordPrevious(ctx, e)
	if err != nil {
		return "", err
	}
	written, err := p.write(ctx, g, e)
	if err != nil {
		return "", err
	}
	if previous == "" {
		previous = written.Previous // a run recorded before previous images were read up front
	}
	es.Image, es.Commit, es.Previous = p.pinned(), written.Commit, previous
	p.ours(ctx, e, git.DeployInProgress, "Argo CD syncing "+short(written.Commit))

	if err := p.verify(ctx, e, written, p.pinned()); err != nil {
		p.oursFailed(ctx, e, err)
		return "", p.undo(ctx, e, previous, err, "did not become healthy")
	}
	p.ours(ctx, e, git.DeploySuccess, "Synced and Healthy")
	return previous, nil
}

// pinned is the image as manifests pin it: by tag and digest.
func (p *promotion) pinned() string { return policy.PinnedImage(p.image.Image, p.image.Digest) }

// recheckDigest resolves the tag again before the image goes into an env: a tag that now
// points at another digest was pushed over (ECR repositories should be IMMUTABLE). What is
// written is pinned by digest either way, so nothing unverified would run; but a moved tag means
// the release is not what people think it is, and the run stops and says so.
func (p *promotion) recheckDigest(ctx workflow.Context, e policy.Env) error {
	if p.since(ctx, "recheck-digest", 1) < 1 {
		return nil
	}
	var ea *aws.Activities
	var now aws.ResolveOutput
	if err := p.quick(ctx, "is "+p.in.Tag+" still "+short(p.image.Digest)+"?", time.Minute,
		ea.ResolveImage, aws.ResolveInput{Service: p.in.Service, Tag: p.in.Tag, Tooling: e.Snapshot.Tooling}).Get(ctx, &now); err != nil {
		return err
	}
	if now.Digest != p.image.Digest {
		return fail.New(api.ErrRetagged, "%s %s now points at %s, not %s, which this run resolved and approvals are bound to: refusing to promote a moved tag into %s (make the ECR repository IMMUTABLE)",
			p.in.Service, p.in.Tag, now.Digest, p.image.Digest, e.Name)
	}
	return nil
}

// recordPrevious reads, once and before anything is written, the image the env runs now: what
// a rollback restores. Read after a retried write, it would be our own image.
func (p *promotion) recordPrevious(ctx workflow.Context, e policy.Env) (string, error) {
	if p.since(ctx, "record-previous-image", 1) < 1 {
		return "", nil
	}
	var pa *platform.Activities
	var out platform.ImageOutput
	err := p.quick(ctx, "read "+p.in.Service+"'s image in "+e.Name, time.Minute,
		pa.CurrentImage, platform.ImageInput{Env: e.Name, Service: p.in.Service}).Get(ctx, &out)
	return out.Image, err
}

// write lands the image in Git: a direct commit, or, where policy asks for approval, a branch
// (a pull request on GitHub) that approvers see first and that is merged once they approve.
func (p *promotion) write(ctx workflow.Context, g *gate, e policy.Env) (git.WriteImageOutput, error) {
	written, err := p.propose(ctx, e)
	if err != nil {
		return written, err
	}
	if e.Approval.Required {
		p.env(e.Name).State = api.EnvWaitingApproval
		stop := g.watchReviews(ctx, written.Proposal) // approving pull request reviews count too
		err := g.wait(ctx, gateRequest{Env: e.Name, Subject: p.image.Digest, What: "image digest", Policy: e.Approval})
		stop()
		if err != nil {
			return written, err
		}
	}
	return p.land(ctx, e, written)
}

// commitMessage says what a write of the image into e lands and on whose behalf.
func (p *promotion) commitMessage(ctx workflow.Context, e policy.Env) string {
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	return fmt.Sprintf("promote %s %s to %s\n\nimage: %s\ndigest: %s\nworkflow: %s\nrequested-by: %s",
		p.in.Service, p.in.Tag, e.Name, p.image.Image, p.image.Digest, id, p.in.Requester)
}

func (p *promotion) writeOptions(ctx workflow.Context, e policy.Env) workflow.Context {
	return workflow.WithActivityOptions(ctx, gitWriteOptions("write "+p.in.Service+" "+p.in.Tag+" into "+e.Name))
}

// propose, where e lands changes through a branch, writes the image on it (opening a pull
// request on GitHub) for approvers to see; elsewhere it does nothing.
func (p *promotion) propose(ctx workflow.Context, e policy.Env) (git.WriteImageOutput, error) {
	var ga *git.Activities
	var written git.WriteImageOutput
	if !e.Propose {
		return written, nil
	}
	in := git.WriteImageInput{Env: e.Name, Service: p.in.Service, Image: p.pinned(), Message: p.commitMessage(ctx, e), Propose: true,
		Head:  policy.ProposalBranch(p.in.Service, e.Name, p.in.Tag),
		Title: fmt.Sprintf("Promote %s %s to %s (%s)", p.in.Service, p.in.Tag, e.Name, short(p.image.Digest)),
		Body:  p.proposalBody(e.Name)}
	if err := workflow.ExecuteActivity(p.writeOptions(ctx, e), ga.WriteImage, in).Get(ctx, &written); err != nil {
		return written, err
	}
	if written.Proposal != nil && written.Proposal.URL != "" {
		p.step(ctx, "pull request for %s: %s", e.Name, written.Proposal.URL)
	}
	return written, nil
}

// land puts the image on e's branch once approved: it merges what propose wrote, or commits
// the image directly.
func (p *promotion) land(ctx workflow.Context, e policy.Env, written git.WriteImageOutput) (git.WriteImageOutput, error) {
	var ga *git.Activities
	p.setStage(ctx, api.StageDeploying)
	p.env(e.Name).State = api.EnvDeploying
	switch {
	case e.Propose && written.Proposal != nil && written.Proposal.Head == "":
		p.step(ctx, "%s already pins %s: nothing to merge", e.Name, p.pinned())
		return written, nil
	case e.Propose:
		if err := p.recheckBeforeMerge(ctx, e); err != nil {
			return written, err
		}
		replaced := written.Previous
		err := workflow.ExecuteActivity(p.writeOptions(ctx, e), ga.MergeProposal, git.MergeInput{Proposal: *written.Proposal, Body: p.proposalBody(e.Name)}).Get(ctx, &written)
		written.Previous = replaced
		return written, err
	}
	err := workflow.ExecuteActivity(p.writeOptions(ctx, e), ga.WriteImage,
		git.WriteImageInput{Env: e.Name, Service: p.in.Service, Image: p.pinned(), Message: p.commitMessage(ctx, e)}).Get(ctx, &written)
	return written, err
}

// checkPassed makes sure the digest already ran Healthy in e's RequirePassed env, before this
// run.
func (p *promotion) checkPassed(ctx workflow.Context, e policy.Env) error {
	var ar *argocd.Activities
	env := e.RequirePassed
	if e.PassedSnapshot == nil {
		return fail.New(fail.Config, "%s requires passing %s first, which idp.yaml does not define", e.Name, env)
	}
	var out argocd.PassedOutput
	if err := p.quick(ctx, "did "+short(p.image.Digest)+" pass "+env+"?", time.Minute,
		ar.Passed, argocd.PassedInput{Snapshot: *e.PassedSnapshot, App: policy.AppName(p.in.Service, env), Service: p.in.Service, Digest: p.image.Digest}).Get(ctx, &out); err != nil {
		return err
	}
	if !out.Passed {
		return fail.New(api.ErrNotPassed, "%s %s (%s) has not run Healthy in %s, which policy requires first: %s",
			p.in.Service, p.in.Tag, short(p.image.Digest), env, out.Reason)
	}
	p.step(ctx, "%s ran Healthy in %s (%s)", short(p.image.Digest), env, out.Reason)
	return nil
}

// proposalBody is the pull request's description: what lands and who approved it.
func (p *promotion) proposalBody(env string) string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("Promotes **%s %s** to **%s**.\n\n- image: `%s`\n- digest: `%s`\n- workflow: `%s`\n- requested by: %s\n",
		p.in.Service, p.in.Tag, env, p.image.Image, p.image.Digest, p.status.WorkflowID, p.in.Requester))
	var approvals []string
	for _, d := range p.status.Approvals {
		if d.Env == env && d.Decision == "approve" {
			via := ""
			if d.Source == api.SourceGitHubReview {
				via = " (review by @" + strings.TrimPrefix(d.Key, "github:") + ")"
			}
			approvals = append(approvals, fmt.Sprintf("- approved by %s%s at %s (digest `%s`)", d.Who, via, d.When.Format(time.RFC3339), d.Subject))
		}
	}
	if len(approvals) > 0 {
		b.WriteString("\nApprovals:\n" + strings.Join(approvals, "\n") + "\n")
	} else {
		b.WriteString("\nWaiting for approval: `starter approve " + p.status.WorkflowID + " --as USER`\n")
	}
	return b.String()
}
