package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/platform"
)

// watch arms the holder's liveness check while others wait for it and adds it to sel; it
// disarms the check when nobody waits, so an uncontended lock adds nothing to its history.
// The timer outlives one select, so a stream of requests does not put the check off.
func (l *lock) watch(ctx workflow.Context, sel workflow.Selector) {
	contended := l.holder != "" && len(l.queue) > 0
	if !contended {
		if l.check != nil {
			l.cancelCheck()
			l.check, l.cancelCheck = nil, nil
		}
		return
	}
	if l.check == nil {
		if l.version == nil {
			v := workflow.GetVersion(ctx, livenessVersion, workflow.DefaultVersion, 1)
			l.version = &v
		}
		if *l.version == workflow.DefaultVersion {
			return
		}
		tctx, cancel := workflow.WithCancel(ctx)
		l.check, l.cancelCheck = workflow.NewTimerWithOptions(tctx, l.interval, workflow.TimerOptions{Summary: livenessSummary(l.holder, l.interval)}), cancel
	}
	sel.AddFuture(l.check, func(workflow.Future) {
		l.check, l.cancelCheck = nil, nil
		l.checkHolder(ctx)
	})
}

// checkHolder lets go of a holder whose workflow is no longer running. When the answer does
// not come, the holder keeps the lock until the next check: a lock never changes hands on a
// guess.
func (l *lock) checkHolder(ctx workflow.Context) {
	var sa *platform.Signaller
	holder := l.holder
	opts := activityOptions("is "+holder+" still running?", 10*time.Second)
	opts.RetryPolicy = &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 3}
	var out platform.WorkflowRunningOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), sa.WorkflowRunning,
		platform.WorkflowRunningInput{WorkflowID: holder}).Get(ctx, &out); err != nil {
		workflow.GetLogger(ctx).Warn("could not check the lock's holder; it keeps the lock", "holder", holder, "error", err)
		return
	}
	if out.Running || l.holder != holder {
		return
	}
	l.forget(ctx, holder, "released: its workflow is "+out.Status+" and never released the lock")
	l.holder = ""
}
