package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/notify"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/workflows/api"
)

// Telling people (notifications and GitHub deployment statuses) never holds up or fails a
// run. Each run has an outbox: the run's code appends to it and goes on at once, and one
// goroutine works through it in order, an activity at a time, with a few retries; an error is
// logged and dropped. The goroutine runs on a disconnected context, so a cancelled run still
// says how it ended. Before a run returns it gives the outbox a bounded time (drainFor) to
// empty, so the last messages ("promoted", "rolled back") go out; what is still queued after
// that is dropped rather than keep the run open.
//
// Runs recorded before the outbox replay without it: the first message asks
// workflow.GetVersion(tellChange), and every later one follows the answer.

const tellChange = "tell-people"

// drainFor bounds how long a finishing run waits for its outbox.
const drainFor = 3 * time.Minute

// outbox is a run's queue of things to tell, worked through in order.
type outbox struct {
	decided, enabled bool
	// current says the run has tellChange without asking (run.since).
	current bool
	items   []outboxItem
	busy    bool
	// targets holds the notify targets of the envs whose idp.yaml snapshot the run knows
	// (listen): an event no target there wants is not sent. An env missing here is sent to,
	// and the worker finds its targets.
	targets map[string][]config.NotifyTarget
}

// listen records env's notify targets from the run's snapshot of idp.yaml.
func (o *outbox) listen(env string, targets []config.NotifyTarget) {
	if o.targets == nil {
		o.targets = map[string][]config.NotifyTarget{}
	}
	o.targets[env] = targets
}

// wanted says whether an event of type typ in env has someone to tell.
func (o *outbox) wanted(env, typ string) bool {
	targets, known := o.targets[env]
	if !known {
		return true
	}
	for _, t := range targets {
		if t.Wants(typ) {
			return true
		}
	}
	return false
}

type outboxItem struct {
	what string
	do   func(workflow.Context) error
}

// tell queues do on the run's outbox.
func (r *run) tell(ctx workflow.Context, what string, do func(workflow.Context) error) {
	r.out.tell(ctx, what, do)
}

// tell queues do (an activity that tells people something; what names it in logs) behind what
// is already queued. It returns at once.
func (o *outbox) tell(ctx workflow.Context, what string, do func(workflow.Context) error) {
	if !o.decided {
		o.decided = true
		o.enabled = o.current || workflow.GetVersion(ctx, tellChange, workflow.DefaultVersion, 1) >= 1
		if o.enabled {
			dctx, _ := workflow.NewDisconnectedContext(ctx)
			workflow.Go(dctx, o.work)
		}
	}
	if o.enabled {
		o.items = append(o.items, outboxItem{what: what, do: do})
	}
}

func (o *outbox) work(ctx workflow.Context) {
	for {
		if err := workflow.Await(ctx, func() bool { return len(o.items) > 0 }); err != nil {
			return
		}
		it := o.items[0]
		o.items, o.busy = o.items[1:], true
		if err := it.do(ctx); err != nil {
			workflow.GetLogger(ctx).Warn("could not tell people; the run goes on", "what", it.what, "error", fail.Message(err))
		}
		o.busy = false
	}
}

// drain waits, at most drainFor, until the run's outbox is empty.
func (r *run) drain(ctx workflow.Context) { r.out.drain(ctx) }

// drain waits, at most drainFor, until the outbox is empty. A workflow that continues as new
// drains first.
func (o *outbox) drain(ctx workflow.Context) {
	idle := func() bool { return len(o.items) == 0 && !o.busy }
	if !o.enabled || idle() {
		return
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	opts := workflow.AwaitOptions{Timeout: drainFor, TimerOptions: workflow.TimerOptions{
		Summary: fmt.Sprintf("sending the last notifications, at most %s", drainFor)}}
	if ok, _ := workflow.AwaitWithOptions(dctx, opts, idle); !ok {
		workflow.GetLogger(ctx).Warn("notifications still queued when the run ended; dropped", "queued", len(o.items))
	}
}

// notifyOptions: a webhook that does not answer in 10 s is tried twice more, then given up.
func notifyOptions(summary string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		Summary:                summary,
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 20 * time.Second, MaximumAttempts: 3, NonRetryableErrorTypes: []string{notify.ErrTarget}},
	}
}

// Notify queues ev, of any event type, for the notify targets of ev.Env; it returns at once and
// never fails the run. The run's fields (kind, service, tag, digest, workflow ID) and the time
// fill what ev leaves empty.
func (r *run) Notify(ctx workflow.Context, ev notify.Event) {
	st := r.status
	fill := func(f *string, v string) {
		if *f == "" {
			*f = v
		}
	}
	fill(&ev.Kind, st.Kind)
	fill(&ev.Service, st.Service)
	fill(&ev.Tag, st.Version)
	fill(&ev.Digest, st.Digest)
	fill(&ev.WorkflowID, st.WorkflowID)
	r.out.Notify(ctx, ev)
}

// Notify queues ev for the notify targets of ev.Env, as it is (a workflow that is not a
// bootstrap or a promotion, such as a freeze, keeps an outbox of its own and fills in what it
// knows); it returns at once and never fails the workflow.
func (o *outbox) Notify(ctx workflow.Context, ev notify.Event) {
	if ev.Env == "" || !o.wanted(ev.Env, ev.Type) {
		return // targets are per env
	}
	if ev.Time.IsZero() {
		ev.Time = workflow.Now(ctx).UTC()
	}
	o.tell(ctx, ev.Type+" in "+ev.Env, func(ctx workflow.Context) error {
		var na *notify.Activities
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, notifyOptions("notify: "+ev.Type+" in "+ev.Env)),
			na.Send, ev).Get(ctx, nil)
	})
}

// notifyf queues an event of type typ in env with a formatted text.
func (r *run) notifyf(ctx workflow.Context, typ, env, format string, args ...any) {
	r.Notify(ctx, notify.Event{Type: typ, Env: env, Text: fmt.Sprintf(format, args...)})
}

// approveCommand is the exact command that approves subject in the run workflowID.
func approveCommand(workflowID, subject string) string {
	return fmt.Sprintf("starter approve %s --subject %s --as USER", workflowID, subject)
}

// notifyGate tells people how a gate's wait ended: approved, rejected or expired (an abort
// or a cancellation is told by the run's end, if at all).
func (g *gate) notifyGate(ctx workflow.Context, req gateRequest, err error) {
	r := g.run
	what := req.What + " " + short(req.Subject)
	switch {
	case err == nil:
		r.Notify(ctx, notify.Event{Type: notify.Approved, Env: req.Env, Subject: req.Subject, Who: joinNames(g.approvers),
			Text: fmt.Sprintf("%s approved %s in %s for %s", joinNames(g.approvers), what, req.Env, r.status.WorkflowID)})
	case fail.Is(err, fail.Rejected):
		who := ""
		if g.rejection != nil {
			who = g.rejection.Who
		}
		r.Notify(ctx, notify.Event{Type: notify.Rejected, Env: req.Env, Subject: req.Subject, Who: who, Text: fail.Message(err)})
	case fail.Is(err, fail.ApprovalExpired):
		r.Notify(ctx, notify.Event{Type: notify.Expired, Env: req.Env, Subject: req.Subject, Text: fail.Message(err)})
	}
}

// notifyOpened tells the approvers a gate waits for them; reminder says it is the reminder.
func (g *gate) notifyOpened(ctx workflow.Context, req gateRequest, expires time.Time, reminder bool) {
	r := g.run
	typ, text := notify.ApprovalRequested, "%s waits for approval in %s of %s %s (%d needed, by %s until %s)"
	if reminder {
		typ, text = notify.ApprovalReminder, "Reminder: %s still waits for approval in %s of %s %s (%d needed, by %s until %s)"
	}
	who := "anyone"
	if a := g.allowed(); len(a) > 0 {
		who = joinNames(a)
	}
	r.Notify(ctx, notify.Event{Type: typ, Env: req.Env, Subject: req.Subject, Who: r.status.Requester, ExpiresAt: expires,
		ApproveCommand: approveCommand(r.status.WorkflowID, req.Subject),
		Text:           fmt.Sprintf(text, r.status.WorkflowID, req.Env, req.What, req.Subject, req.Policy.MinApprovals, who, expires.Format(time.RFC3339))})
}

// toldAlready says the run's failure was already told by a more precise event (a gate's
// rejection or expiry, a rollback).
func toldAlready(err error) bool {
	return fail.Is(err, fail.Rejected) || fail.Is(err, fail.ApprovalExpired) || fail.Is(err, api.ErrRolledBack)
}

// lastEnv is the last env the run reached (left pending), or "".
func (r *run) lastEnv() string {
	name := ""
	for _, e := range r.status.Environments {
		if e.State != api.EnvPending {
			name = e.Name
		}
	}
	return name
}

func joinNames(names []string) string { return strings.Join(names, ", ") }

// remind waits until decided or the gate's remindAfter, whichever comes first, and in the
// second case sends one reminder. It reports whether decided became true. Without
// remindAfter (or in runs recorded before reminders) it waits for nothing.
func (g *gate) remind(ctx workflow.Context, req gateRequest, expires time.Time, decided func() bool) (bool, error) {
	after := req.Policy.RemindAfter.Std()
	if after <= 0 || after >= req.Policy.Expiry.Std() || decided() {
		return decided(), nil
	}
	if g.run.since(ctx, "approval-reminder", 1) < 1 {
		return false, nil
	}
	done, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{Timeout: after,
		TimerOptions: workflow.TimerOptions{Summary: "reminder in " + after.String() + ": " + approvalSummary(g.run.status.WorkflowID, req, len(g.approvers), expires)}}, decided)
	if err != nil || done {
		return done, err
	}
	g.run.step(ctx, "%s still waits for approval in %s: reminder sent", g.run.status.WorkflowID, req.Env)
	g.notifyOpened(ctx, req, expires, true)
	return false, nil
}

// notifyFailed tells the env where the promotion stopped that it failed, unless a more
// precise event already did.
func (p *promotion) notifyFailed(ctx workflow.Context, err error) {
	if toldAlready(err) {
		return
	}
	p.notifyf(ctx, notify.PromotionFailed, p.lastEnv(), "%s %s failed: %s", p.in.Service, p.in.Tag, fail.Message(err))
}
