package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/notify"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/controls"
)

// controlsEventsBeforeContinue bounds a Controls workflow's history; its state (freezes, pins,
// runs waiting at the door) is carried into the next run.
const controlsEventsBeforeContinue = 1000

// Controls holds one environment's freezes and pins, for as long as the env exists (ID
// controls-<env>, started by whoever needs it first: a freeze, a pin, a run at the door). The
// freeze/unfreeze/pin/unpin updates change them: the validator refuses malformed requests
// before anything is recorded, the handler checks the person against the worker's idp.yaml
// (read by an activity) and their signature. Runs ask at the door (DoorSignal) and are answered
// at once (AnswerSignal): open, or frozen and why; those kept waiting are told again when a
// freeze lifts, by unfreeze or by its --until.
func Controls(ctx workflow.Context, in controls.State) error {
	c := &ctl{state: in, doors: workflow.GetSignalChannel(ctx, controls.DoorSignal)}
	c.state.Freezes = nonNil(c.state.Freezes)
	c.state.Pins = nonNil(c.state.Pins)
	if err := workflow.SetQueryHandler(ctx, controls.Query, func() (controls.State, error) { return c.state, nil }); err != nil {
		return err
	}
	for _, u := range []struct {
		op string
		h  func(workflow.Context, controls.Request) (controls.Result, error)
	}{{controls.OpFreeze, c.freeze}, {controls.OpUnfreeze, c.unfreeze}, {controls.OpPin, c.pin}, {controls.OpUnpin, c.unpin}} {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.op, u.h, workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, req controls.Request) error { return c.validate(ctx, u.op, req) }}); err != nil {
			return fmt.Errorf("registering the %s update: %w", u.op, err)
		}
	}
	limit := controlsEventsBeforeContinue
	if in.ContinueAfter > 0 {
		limit = in.ContinueAfter
	}
	for {
		c.receive(ctx)
		c.expire(ctx)
		c.answer(ctx)
		if workflow.GetInfo(ctx).GetCurrentHistoryLength() > limit {
			if err := c.settle(ctx); err != nil {
				return err
			}
			return workflow.NewContinueAsNewError(ctx, Controls, c.state)
		}
		c.changed = false
		wake := func() bool { return c.changed || c.doors.Len() > 0 }
		if next := controls.NextExpiry(c.state.Freezes); !next.IsZero() {
			if _, err := workflow.AwaitWithTimeout(ctx, max(next.Sub(workflow.Now(ctx)), time.Millisecond), wake); err != nil {
				return err
			}
		} else if err := workflow.Await(ctx, wake); err != nil {
			return err
		}
	}
}

// ctl is one Controls workflow's state.
type ctl struct {
	state controls.State
	doors workflow.ReceiveChannel
	// pending are door requests received and not yet answered.
	pending []controls.DoorRequest
	// changed says freezes or pins changed since the loop last answered the door.
	changed bool
	// out tells the env's notify targets when it is frozen or unfrozen.
	out outbox
}

// validate refuses, before anything is recorded, a request for another env, a malformed one,
// one signed too far from now, lifting a freeze or pin that is not there.
func (c *ctl) validate(ctx workflow.Context, op string, req controls.Request) error {
	now := workflow.Now(ctx)
	if req.Env != c.state.Env {
		return fmt.Errorf("this is %s's controls workflow, not %s's", c.state.Env, req.Env)
	}
	if err := req.Check(op, now); err != nil {
		return err
	}
	if req.Signature != "" {
		if skew := now.Sub(req.SignedAt); skew > maxClockSkew || skew < -maxClockSkew {
			return fmt.Errorf("the %s was signed at %s, more than %s from now (%s): sign it again", op,
				req.SignedAt.UTC().Format(time.RFC3339), maxClockSkew, now.UTC().Format(time.RFC3339))
		}
	}
	switch {
	case op == controls.OpUnfreeze && len(c.state.Freezes) == 0:
		return fmt.Errorf("%s is not frozen", c.state.Env)
	case op == controls.OpUnpin && controls.PinOf(c.state.Pins, req.Service) == nil:
		return fmt.Errorf("%s is not pinned in %s", req.Service, c.state.Env)
	}
	return nil
}

// authorize checks who asks against the worker's idp.yaml, read now: they must be among the
// env's people, and sign where the env's gates require signatures. It returns the signing
// key's fingerprint ("" unsigned). idp's own rollback pins need no person.
func (c *ctl) authorize(ctx workflow.Context, op string, req controls.Request) (string, error) {
	if req.Who == controls.System {
		return "", nil
	}
	var pa *platform.Activities
	var rules controls.Rules
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("who may "+op+" in "+req.Env, time.Minute)),
		pa.ControlRules, platform.ControlRulesInput{Env: req.Env}).Get(ctx, &rules); err != nil {
		return "", fmt.Errorf("reading who may %s in %s: %w", op, req.Env, err)
	}
	if !rules.Known {
		return "", fmt.Errorf("idp.yaml has no environment %q", req.Env)
	}
	person := rules.Find(req.Who)
	if person == nil {
		return "", fmt.Errorf("%s may not %s %s: the people idp.yaml lists for it are %s", req.Who, op, req.Env, strings.Join(rules.Names(), ", "))
	}
	if req.Signature == "" {
		if rules.RequireSignatures {
			return "", fmt.Errorf("%s requires signed requests (its gates require signatures): pass --key FILE, set IDP_SIGNING_KEY, or load your key into ssh-agent", req.Env)
		}
		return "", nil
	}
	return verifySigned(req.Who, person.Keys, req.Statement(op), req.Signature, op+" request")
}

func (c *ctl) freeze(ctx workflow.Context, req controls.Request) (controls.Result, error) {
	key, err := c.authorize(ctx, controls.OpFreeze, req)
	if err != nil {
		return controls.Result{}, err
	}
	f := controls.Freeze{Who: normalize(req.Who), Reason: req.Reason, Until: req.Until, Since: workflow.Now(ctx).UTC(), All: req.All, Key: key}
	// One freeze per person: freezing again replaces your own (a new reason, a new end).
	c.state.Freezes = append(slices.DeleteFunc(c.state.Freezes, func(o controls.Freeze) bool { return o.Who == f.Who }), f)
	c.changed = true
	workflow.GetLogger(ctx).Info("frozen", "env", c.state.Env, "who", f.Who, "reason", f.Reason)
	c.out.Notify(ctx, notify.Event{Type: notify.Frozen, Env: c.state.Env, Who: f.Who, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		Text: c.state.Env + " is frozen: " + controls.Describe([]controls.Freeze{f})})
	return controls.Result{Message: controls.Describe([]controls.Freeze{f}), State: c.state}, nil
}

func (c *ctl) unfreeze(ctx workflow.Context, req controls.Request) (controls.Result, error) {
	if _, err := c.authorize(ctx, controls.OpUnfreeze, req); err != nil {
		return controls.Result{}, err
	}
	lifted := controls.Describe(c.state.Freezes)
	c.state.Freezes = []controls.Freeze{}
	c.changed = true
	workflow.GetLogger(ctx).Info("unfrozen", "env", c.state.Env, "who", req.Who, "lifted", lifted)
	c.out.Notify(ctx, notify.Event{Type: notify.Unfrozen, Env: c.state.Env, Who: normalize(req.Who), WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		Text: fmt.Sprintf("%s unfrozen by %s (was %s)", c.state.Env, req.Who, lifted)})
	return controls.Result{Message: fmt.Sprintf("%s unfrozen by %s (was %s)", c.state.Env, req.Who, lifted), State: c.state}, nil
}

func (c *ctl) pin(ctx workflow.Context, req controls.Request) (controls.Result, error) {
	key, err := c.authorize(ctx, controls.OpPin, req)
	if err != nil {
		return controls.Result{}, err
	}
	p := controls.Pin{Service: req.Service, Tag: req.Tag, Image: req.Image, Who: req.Who, Reason: req.Reason,
		Since: workflow.Now(ctx).UTC(), Run: req.Run, Key: key}
	if p.Who != controls.System {
		p.Who = normalize(p.Who)
	}
	c.state.Pins = append(slices.DeleteFunc(c.state.Pins, func(o controls.Pin) bool { return o.Service == p.Service }), p)
	c.changed = true // a run waiting at the door for this service is refused now, not after the freeze
	workflow.GetLogger(ctx).Info("pinned", "env", c.state.Env, "service", p.Service, "who", p.Who, "reason", p.Reason)
	return controls.Result{Message: controls.DescribePin(p) + " in " + c.state.Env, State: c.state}, nil
}

func (c *ctl) unpin(ctx workflow.Context, req controls.Request) (controls.Result, error) {
	if _, err := c.authorize(ctx, controls.OpUnpin, req); err != nil {
		return controls.Result{}, err
	}
	old := controls.PinOf(c.state.Pins, req.Service)
	if old == nil { // lifted meanwhile by another request
		return controls.Result{Message: req.Service + " is not pinned in " + c.state.Env, State: c.state}, nil
	}
	msg := fmt.Sprintf("%s unpinned in %s by %s (was: %s)", req.Service, c.state.Env, req.Who, controls.DescribePin(*old))
	c.state.Pins = slices.DeleteFunc(c.state.Pins, func(o controls.Pin) bool { return o.Service == req.Service })
	c.changed = true
	workflow.GetLogger(ctx).Info("unpinned", "env", c.state.Env, "service", req.Service, "who", req.Who)
	return controls.Result{Message: msg, State: c.state}, nil
}

// receive takes every door request already delivered.
func (c *ctl) receive(ctx workflow.Context) {
	for {
		var req controls.DoorRequest
		if !c.doors.ReceiveAsync(&req) {
			return
		}
		c.pending = append(c.pending, req)
	}
}

// settleAgain is the version of Controls that, before continuing as new, answers door requests
// that arrived while it answered others (lost before it: 3 of 100 runs entering dev at once
// waited at the door for good).
const settleAgain = "controls-settle-again"

// settle finishes the run's business before it continues as new: running update handlers,
// every door request delivered so far, the outbox. Answering waits for each signal to go out
// and draining for sends, and requests that arrive meanwhile sit in the channel, where
// continuing as new would drop them: so it goes round until none is left. (One that arrives
// during the last workflow task makes the server refuse the continue-as-new, and the task
// runs again with it.)
func (c *ctl) settle(ctx workflow.Context) error {
	for {
		if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
			return err
		}
		c.receive(ctx)
		c.answer(ctx)
		c.out.drain(ctx)
		if c.doors.Len() == 0 && workflow.AllHandlersFinished(ctx) {
			return nil
		}
		if workflow.GetVersion(ctx, settleAgain, workflow.DefaultVersion, 1) < 1 {
			return nil
		}
	}
}

// expire drops the freezes whose --until passed.
func (c *ctl) expire(ctx workflow.Context) {
	active := controls.Active(c.state.Freezes, workflow.Now(ctx))
	if len(active) != len(c.state.Freezes) {
		workflow.GetLogger(ctx).Info("freeze expired", "env", c.state.Env, "remaining", len(active))
		if len(active) == 0 {
			c.out.Notify(ctx, notify.Event{Type: notify.Unfrozen, Env: c.state.Env, Who: "idp", WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
				Text: fmt.Sprintf("%s unfrozen: the freeze ran out (was %s)", c.state.Env, controls.Describe(c.state.Freezes))})
		}
		c.state.Freezes, c.changed = active, true
	}
}

// answerTogether is the version of Controls that sends every answer of one turn at once and
// then waits for them, rather than each after the one before has gone out: one answer was one
// workflow-task round trip, so the hundredth run entering an env at once waited for ninety-nine.
const answerTogether = "controls-answer-together"

// answer tells each new asker, and, when freezes changed, each run waiting at the door, whether
// it may enter. A run that is gone is forgotten.
func (c *ctl) answer(ctx workflow.Context) {
	frozen := len(c.state.Freezes) > 0
	var tell []controls.DoorRequest
	if c.changed || !frozen {
		tell = append(tell, c.state.Waiting...)
		c.state.Waiting = nil
	}
	tell = append(tell, c.pending...)
	c.pending = nil
	if len(tell) == 0 {
		return
	}
	together := workflow.GetVersion(ctx, answerTogether, workflow.DefaultVersion, 1) >= 1
	sent := make([]workflow.Future, len(tell))
	for i, req := range tell {
		a := controls.Answer(c.state.Env, c.state.Freezes, controls.PinOf(c.state.Pins, req.Service))
		sent[i] = workflow.SignalExternalWorkflow(ctx, req.Owner, "", controls.AnswerSignal, a)
		if !together {
			_ = sent[i].Get(ctx, nil) // one after another, as runs recorded before answerTogether did
		}
	}
	for i, req := range tell {
		if err := sent[i].Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("a run at the door is gone", "owner", req.Owner, "error", err)
			continue
		}
		if frozen && !slices.ContainsFunc(c.state.Waiting, func(w controls.DoorRequest) bool { return w.Owner == req.Owner }) {
			c.state.Waiting = append(c.state.Waiting, req)
		}
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
