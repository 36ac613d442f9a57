package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/notify"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

// trainEnv is the train's work in one env: each member's policy there, and what each member
// replaced and wrote.
type trainEnv struct {
	name     string
	envs     []policy.Env // per member
	previous []string
	written  []git.WriteImageOutput
	landed   []int // members whose image is on the env's branch, in order
}

// promoteEnv takes every member into the train's i-th env, or none of them; last says it is
// the last env of the run, where no soak follows.
func (t *train) promoteEnv(ctx workflow.Context, g *gate, i int, last bool) error {
	te := &trainEnv{previous: make([]string, len(t.members)), written: make([]git.WriteImageOutput, len(t.members))}
	for _, path := range t.paths {
		te.envs = append(te.envs, path[i])
	}
	te.name = te.envs[0].Name
	if err := workflow.UpsertTypedSearchAttributes(ctx, api.AttrEnvironment.ValueSet(te.name)); err != nil {
		workflow.GetLogger(ctx).Warn("upserting IdpEnvironment", "error", err)
	}
	// The locks in service order, each held until the train leaves the env: two runs that
	// want the same locks ask for them in the same order, so neither holds one the other
	// needs while waiting for one it holds.
	for m, p := range t.members {
		release, err := p.requestLock(ctx, te.envs[m])
		if err != nil {
			return err
		}
		defer release() // even when the run is failing or cancelled
		p.awaitLock(ctx, te.envs[m])
	}
	for m, p := range t.members {
		if err := p.admit(ctx, te.envs[m]); err != nil {
			return err
		}
	}
	err := t.deploy(ctx, g, te)
	if err == nil {
		err = t.soak(ctx, te, last)
	}
	if err != nil {
		return err
	}
	for m, p := range t.members {
		es := p.env(te.name)
		p.passed[te.name], es.State = true, api.EnvDone
		p.step(ctx, "%s runs %s %s at %s (was %s)", te.name, p.in.Service, p.in.Tag, short(es.Commit), te.previous[m])
		p.notifyf(ctx, notify.Promoted, te.name, "%s %s is live in %s with train %s: Healthy at %s (was %s)",
			p.in.Service, p.in.Tag, te.name, t.in.Name, short(es.Commit), te.previous[m])
	}
	t.publish(ctx)
	return nil
}

// deploy writes every member's image into the env, behind one approval where policy asks for
// one, and verifies them all; on any failure it rolls back every member it wrote.
func (t *train) deploy(ctx workflow.Context, g *gate, te *trainEnv) error {
	for m, p := range t.members {
		if err := p.recheckDigest(ctx, te.envs[m]); err != nil {
			return err
		}
		previous, err := p.recordPrevious(ctx, te.envs[m])
		if err != nil {
			return err
		}
		te.previous[m] = previous
		if te.written[m], err = p.propose(ctx, te.envs[m]); err != nil {
			return err
		}
	}
	if e := te.envs[0]; e.Approval.Required {
		for _, p := range t.members {
			p.env(te.name).State = api.EnvWaitingApproval
		}
		if err := g.wait(ctx, gateRequest{Env: te.name, Subject: t.status.Train.Subject, What: "train digest", Policy: e.Approval}); err != nil {
			return err
		}
	}
	for m, p := range t.members {
		written, err := p.land(ctx, te.envs[m], te.written[m])
		if err != nil {
			return t.rollBack(ctx, te, m, err, "could not be written")
		}
		if te.previous[m] == "" {
			te.previous[m] = written.Previous
		}
		te.written[m], te.landed = written, append(te.landed, m)
		es := p.env(te.name)
		es.Image, es.Commit, es.Previous = p.pinned(), written.Commit, te.previous[m]
		p.ours(ctx, te.envs[m], git.DeployInProgress, "Argo CD syncing "+short(written.Commit))
	}
	for m, p := range t.members {
		if err := p.verify(ctx, te.envs[m], te.written[m], p.pinned()); err != nil {
			p.oursFailed(ctx, te.envs[m], err)
			return t.rollBack(ctx, te, m, err, "did not become healthy")
		}
		p.ours(ctx, te.envs[m], git.DeploySuccess, "Synced and Healthy")
		p.observeHealthy(ctx, te.name)
	}
	return nil
}

// soak watches every member's Application in parallel for the env's soak time; if one does
// not stay Healthy, the others stop watching and every member is rolled back.
func (t *train) soak(ctx workflow.Context, te *trainEnv, last bool) error {
	e := te.envs[0]
	if e.Soak <= 0 || last {
		return nil
	}
	until := workflow.Now(ctx).Add(e.Soak)
	for _, p := range t.members {
		es := p.env(te.name)
		es.State, es.SoakUntil = api.EnvSoaking, &until
	}
	t.setStage(ctx, api.StageSoaking)
	wctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(t.members))
	wg := workflow.NewWaitGroup(ctx)
	for m, p := range t.members {
		wg.Add(1)
		workflow.Go(wctx, func(ctx workflow.Context) {
			defer wg.Done()
			if errs[m] = p.watch(ctx, te.envs[m], p.env(te.name).Commit); errs[m] != nil {
				cancel()
			}
		})
	}
	wg.Wait(ctx)
	for _, p := range t.members {
		p.env(te.name).SoakUntil = nil
	}
	if ctx.Err() != nil {
		return temporal.NewCanceledError() // the run itself was cancelled, not a watch that failed
	}
	for m, err := range errs {
		if err != nil && !temporal.IsCanceledError(err) {
			t.members[m].oursFailed(ctx, te.envs[m], err)
			return t.rollBack(ctx, te, m, err, "did not stay healthy")
		}
	}
	return nil
}

// rollBack puts back, in every member written into the env, the image it replaced (a
// compare-and-swap over the member's own image, then verified), because member failed: what
// says how. It returns the train's failure.
func (t *train) rollBack(ctx workflow.Context, te *trainEnv, failed int, cause error, what string) error {
	culprit := t.members[failed]
	t.setStage(ctx, api.StageRollingBack)
	t.step(ctx, "train %s: %s %s %s in %s: rolling back every service of the train there", t.in.Name, culprit.in.Service, culprit.in.Tag, what, te.name)
	var restored, broken []string
	for _, m := range te.landed {
		p, why := t.members[m], what
		if m != failed {
			why = fmt.Sprintf("was rolled back with train %s (%s %s)", t.in.Name, culprit.in.Service, what)
		}
		if prev := te.previous[m]; prev == "" || prev == p.pinned() {
			p.env(te.name).State = api.EnvFailed
			p.step(ctx, "%s: %s ran %s already; nothing to roll back", te.name, p.in.Service, p.pinned())
			continue
		}
		if err := p.rollback(ctx, te.envs[m], te.previous[m], cause, why); fail.Is(err, api.ErrRolledBack) {
			restored = append(restored, p.in.Service+" to "+te.previous[m])
		} else {
			broken = append(broken, fail.Message(err))
		}
	}
	for m, p := range t.members {
		if !slices.Contains(te.landed, m) {
			p.env(te.name).State = api.EnvFailed
		}
	}
	if len(broken) > 0 {
		return errors.Join(fmt.Errorf("train %s: %s %s %s in %s: %s", t.in.Name, culprit.in.Service, culprit.in.Tag, what, te.name, fail.Message(cause)),
			fmt.Errorf("not every service could be rolled back: %s", strings.Join(broken, "; ")))
	}
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("train %s: %s %s %s in %s: %s; rolled back: %s",
		t.in.Name, culprit.in.Service, culprit.in.Tag, what, te.name, fail.Message(cause), strings.Join(restored, ", ")), api.ErrRolledBack, cause)
}
