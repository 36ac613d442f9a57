package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

// doorVersion guards the door's commands (an activity, a wait for the answer), which runs
// recorded before freezes lived in Temporal never issued.
const doorVersion = "controls-door"

// door asks env's Controls workflow whether this run may enter, and waits while the env is
// frozen, saying so in status and the Web UI, until the freeze lifts (unfreeze, or its
// --until). It returns service's pin in env, or nil; a run with a service does not wait for a
// freeze when the service is pinned there, since it is refused anyway. Runs past the door are
// not stopped by a later freeze.
func (r *run) door(ctx workflow.Context, env, service string) (*controls.Pin, error) {
	if r.since(ctx, doorVersion, 1) < 1 {
		return nil, nil
	}
	var sa *platform.Signaller
	if r.askFirst {
		if pin, open := r.readControls(ctx, env, service); open {
			return pin, nil
		}
	}
	if err := r.quick(ctx, "is "+env+" frozen?", time.Minute,
		sa.SignalWithStart, platform.SignalWithStartInput{WorkflowID: controls.WorkflowID(env), WorkflowType: controls.WorkflowName,
			TaskQueue: api.TaskQueue, Signal: controls.DoorSignal, StartArg: controls.State{Env: env},
			SignalArg: controls.DoorRequest{Owner: workflow.GetInfo(ctx).WorkflowExecution.ID, Service: service}}).Get(ctx, nil); err != nil {
		return nil, err
	}
	es := r.env(env)
	before := es.State
	answers := workflow.GetSignalChannel(ctx, controls.AnswerSignal)
	defer func() { r.status.Frozen = "" }()
	for {
		var a controls.DoorAnswer
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(answers, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &a) })
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		sel.Select(ctx)
		if ctx.Err() != nil {
			return nil, temporal.NewCanceledError()
		}
		switch {
		case a.Env != env:
			continue
		case a.Open:
			if es.State == api.EnvFrozen {
				es.State = before
				r.step(ctx, "%s is no longer frozen: going on", env)
			}
			return a.Pin, nil
		case a.Passes(service):
			return a.Pin, nil
		}
		if note := controls.Describe(a.Freezes); note != r.status.Frozen {
			es.State, r.status.Frozen = api.EnvFrozen, env+" is "+note
			r.step(ctx, "%s is %s; waiting until it lifts", env, note)
		}
	}
}

// readControls reads env's freezes and pins (the controls query, one attempt) and answers as
// the door would: open says the run may go on with pin without asking there. A frozen env, or
// a read that failed, leaves it to the door, which waits while the freeze lasts.
func (r *run) readControls(ctx workflow.Context, env, service string) (*controls.Pin, bool) {
	var sa *platform.Signaller
	var out platform.PinnedOutput
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{Summary: "is " + env + " frozen?",
		StartToCloseTimeout: 10 * time.Second, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1}})
	if err := workflow.ExecuteLocalActivity(lctx, sa.Pinned, platform.PinnedInput{Env: env, Service: service}).Get(ctx, &out); err != nil {
		workflow.GetLogger(ctx).Warn("reading the env's freezes and pins; asking at the door", "env", env, "error", err)
		return nil, false
	}
	a := controls.Answer(env, out.Freezes, out.Pin)
	return a.Pin, a.Passes(service)
}

// refusePinned fails a promotion into an env where the service is pinned.
func (p *promotion) refusePinned(e policy.Env, pin *controls.Pin) error {
	p.env(e.Name).State = api.EnvPinned
	return fail.New(api.ErrPinned, "%s in %s, so %s was not deployed there: lift it with `starter unpin --service %s --env %s`, or promote with --unpin",
		controls.DescribePin(*pin), e.Name, p.in.Tag, p.in.Service, e.Name)
}

// pinAfterRollback pins the service in e on the image the rollback put back, so no promotion
// (and no image watch) puts a build there again before someone looked. A pin that cannot be
// written is reported in the run's steps; the rollback stands either way.
func (p *promotion) pinAfterRollback(ctx workflow.Context, e policy.Env, previous string, cause error) {
	if p.since(ctx, "rollback-pin", 1) < 1 {
		return
	}
	var sa *platform.Signaller
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	reason := fmt.Sprintf("%s rolled back %s %s: %s", id, p.in.Service, p.in.Tag, fail.Message(cause))
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("pin "+p.in.Service+" in "+e.Name, time.Minute)),
		sa.Pin, platform.PinInput{Env: e.Name, Service: p.in.Service, Image: previous, Reason: reason, Run: id, TaskQueue: api.TaskQueue}).Get(ctx, nil); err != nil {
		p.step(ctx, "could not pin %s in %s after the rollback: %s", p.in.Service, e.Name, fail.Message(err))
		return
	}
	p.step(ctx, "%s pinned in %s to %s: promotions into it are refused until `starter unpin --service %s --env %s`",
		p.in.Service, e.Name, previous, p.in.Service, e.Name)
}
