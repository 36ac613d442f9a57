package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/notify"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

// train is one Train run: its own status (the train's envs, approvals and members) and one
// promotion per member, in service order, whose steps and stages show in the train's status.
type train struct {
	*run
	in      api.TrainInput
	members []*promotion
	// paths are the members' paths, in member order; every member goes through the same envs.
	paths [][]policy.Env
}

// Train promotes several services together, env by env: it resolves every tag's digest, and
// in each env takes the (service, env) locks in service order (so it never deadlocks with
// single promotions or other trains), lets every member in, passes one approval gate whose
// subject binds every digest (api.TrainSubject), writes every image, and verifies them all.
// If one of them fails to become Healthy there, every member written in that env is rolled
// back (compare-and-swap, as a single promotion's rollback) and the train stops.
func Train(ctx workflow.Context, in api.TrainInput) (api.Status, error) {
	r, err := newRun(ctx, api.KindTrain, in.Requester)
	if err != nil {
		return api.Status{}, err
	}
	t := newTrain(r, in)
	g, err := newGate(ctx, r)
	if err != nil {
		return api.Status{}, err
	}
	err = t.promote(ctx, g)
	if err != nil {
		err = r.failed(ctx, err)
		if !toldAlready(err) {
			t.notifyf(ctx, notify.PromotionFailed, t.lastEnv(), "train %s failed: %s", in.Name, fail.Message(err))
		}
	} else {
		t.setStage(ctx, api.StageDone)
	}
	for _, p := range t.members {
		p.drain(ctx)
	}
	r.drain(ctx)
	return *r.status, err
}

// newTrain makes the members' promotions, in service order: the order locks are taken in.
func newTrain(r *run, in api.TrainInput) *train {
	members := slices.Clone(in.Members)
	slices.SortFunc(members, func(a, b api.TrainMember) int { return strings.Compare(a.Service, b.Service) })
	t := &train{run: r, in: in}
	r.status.Version = in.Name
	r.status.Train = &api.TrainStatus{Name: in.Name, Members: []api.TrainImage{}}
	for _, m := range members {
		st := &api.Status{WorkflowID: r.status.WorkflowID, Kind: api.KindTrain, Requester: in.Requester,
			Service: m.Service, Version: m.Tag, Environments: []api.EnvStatus{}, Approvals: []api.Decision{}}
		t.members = append(t.members, &promotion{run: &run{status: st, parent: r},
			in: api.PromoteInput{Service: m.Service, Tag: m.Tag, To: in.To, Requester: in.Requester}, passed: map[string]bool{}})
		r.status.Train.Members = append(r.status.Train.Members, api.TrainImage{Service: m.Service, Tag: m.Tag, Environments: []api.EnvStatus{}})
	}
	r.sync = t.sync
	return t
}

// sync copies the members' states into the train's status: each member's envs, and per env
// the state of the train as a whole (failed or rolled back if any member is, else the state
// of the first member not done yet).
func (t *train) sync() {
	t.lockWait = nil
	for i, p := range t.members {
		m := &t.status.Train.Members[i]
		m.Image, m.Digest, m.Environments = p.pinned(), p.image.Digest, slices.Clone(p.status.Environments)
		p.status.Approvals = t.status.Approvals // a pull request's body lists the train's approvals
		if t.lockWait == nil {
			t.lockWait = p.lockWait
		}
	}
	for i := range t.status.Environments {
		es := &t.status.Environments[i]
		es.State = trainState(es.Name, t.members)
	}
}

func trainState(env string, members []*promotion) api.EnvState {
	state := api.EnvDone
	for _, p := range members {
		s := p.env(env).State
		switch {
		case s == api.EnvFailed || s == api.EnvRolledBack:
			return s
		case state == api.EnvDone && s != api.EnvDone:
			state = s
		}
	}
	return state
}

func (t *train) promote(ctx workflow.Context, g *gate) error {
	t.setStage(ctx, api.StagePreparing)
	if err := checkRequest(ctx, t.run, signedRequest{Requester: t.in.Requester, Signature: t.in.Signature,
		Statement: t.in.Statement(t.status.WorkflowID)}); err != nil {
		return err
	}
	if err := t.plan(ctx); err != nil {
		return err
	}
	envs := t.paths[0]
	for i, e := range envs {
		err := t.promoteEnv(ctx, g, i, i == len(envs)-1)
		for _, p := range t.members {
			p.observeEnv(ctx, e.Name, err) // per service, as single promotions count
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// plan gets every member's path, which must be the same envs for all, and resolves every
// tag's digest; it fixes the subject approvals bind to.
func (t *train) plan(ctx workflow.Context) error {
	var (
		pa *platform.Activities
		ea *aws.Activities
	)
	var routes []string
	for _, p := range t.members {
		var path platform.PromotionOutput
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("plan the promotion of "+p.in.Service+" "+p.in.Tag, time.Minute)),
			pa.PlanPromotion, policy.Input{Service: p.in.Service, Tag: p.in.Tag, To: p.in.To}).Get(ctx, &path); err != nil {
			return err
		}
		t.paths = append(t.paths, path.Envs)
		routes = append(routes, p.in.Service+" "+p.in.Tag+": "+envNames(path.Envs))
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("resolve "+p.in.Service+" "+p.in.Tag+" in ECR", time.Minute)),
			ea.ResolveImage, aws.ResolveInput{Service: p.in.Service, Tag: p.in.Tag, Tooling: path.Tooling}).Get(ctx, &p.image); err != nil {
			return err
		}
		p.status.Digest = p.image.Digest
		for _, e := range path.Envs {
			p.env(e.Name)
		}
	}
	for _, path := range t.paths[1:] {
		if envNames(path) != envNames(t.paths[0]) {
			return fail.New(fail.Config, "the services of train %s would go through different envs (%s): give tags that enter the same env (all sha-… or all vX.Y.Z) and the same --to",
				t.in.Name, strings.Join(routes, "; "))
		}
	}
	for _, e := range t.paths[0] {
		t.env(e.Name)
	}
	t.sync()
	t.status.Train.Subject = api.TrainSubject(t.status.Train.Members)
	t.status.Digest = t.status.Train.Subject
	t.step(ctx, "train %s is %s: %s", t.in.Name, t.status.Train.Subject, strings.Join(t.digests(), ", "))
	return nil
}

// digests lists the members as "service@digest", in service order.
func (t *train) digests() []string {
	out := make([]string, 0, len(t.members))
	for _, p := range t.members {
		out = append(out, p.in.Service+"@"+p.image.Digest)
	}
	return out
}

func envNames(envs []policy.Env) string {
	names := make([]string, 0, len(envs))
	for _, e := range envs {
		names = append(names, e.Name)
	}
	return strings.Join(names, " → ")
}

// trainMarkdown lists a train's members for the Web UI: what one approval covers.
func trainMarkdown(ts *api.TrainStatus) string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("Train **%s**, subject `%s`:\n", ts.Name, ts.Subject))
	for _, m := range ts.Members {
		b.WriteString(fmt.Sprintf("- %s %s `%s`\n", m.Service, m.Tag, m.Digest))
	}
	return b.String() + "\n"
}
