package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/workflows/api"
)

// LockInput starts a lock workflow for one key, e.g. "time-service/prod".
type LockInput struct {
	Key string `json:"key"`
	// Holder, Queue and Released carry the lock's state across continue-as-new.
	Holder   string        `json:"holder,omitempty"`
	Queue    []LockRequest `json:"queue,omitempty"`
	Released []string      `json:"released,omitempty"`
	// CheckInterval is how often the lock asks whether its holder still runs while others
	// wait; zero means defaultCheckInterval.
	CheckInterval time.Duration `json:"checkInterval,omitempty"`
}

// LockRequest asks for the lock on behalf of a workflow.
type LockRequest struct {
	Owner string `json:"owner"`
	// Supersede asks the holder to step aside if it is still waiting for an approval.
	Supersede bool `json:"supersede,omitempty"`
}

// LockRelease gives the lock back.
type LockRelease struct {
	Owner string `json:"owner"`
}

// LockGrant tells the owner it holds the lock.
type LockGrant struct {
	Key string `json:"key"`
}

// SupersedeRequest asks the holder to step aside for a newer promotion.
type SupersedeRequest struct {
	By string `json:"by"`
}

// lockEventsBeforeContinue bounds a lock's history.
const lockEventsBeforeContinue = 500

// defaultCheckInterval is how often a lock with waiters asks whether its holder still runs.
const defaultCheckInterval = 30 * time.Second

// maxReleased bounds LockStatus.Released.
const maxReleased = 20

// livenessVersion guards the liveness check's commands (a timer, an activity), which locks
// recorded before it never issued.
const livenessVersion = "lock-liveness-check"

// LockStatus is what the lock's status query returns.
type LockStatus struct {
	Key    string        `json:"key"`
	Holder string        `json:"holder,omitempty"`
	Queue  []LockRequest `json:"queue"`
	// Released lists, oldest first, the owners the lock let go of without their release (a
	// holder that ended, a queued owner that was gone when its turn came), each with why.
	Released []string `json:"released,omitempty"`
	// LastReason is the newest entry of Released.
	LastReason string `json:"lastReason,omitempty"`
}

// lockDrainAgain is the version of Lock that drains its channels again when requests arrived
// while it granted the lock, before it ends or continues as new.
const lockDrainAgain = "lock-drain-again"

// Lock serializes promotions of one service into one env: it grants the lock to one owner at
// a time, in request order. A request with Supersede asks the holder to step aside; only a
// holder still waiting for an approval does. While others wait, it asks every CheckInterval
// whether the holder still runs, and lets go of one that ended (terminated, timed out) without
// releasing. Started (and signalled) with SignalWithStart.
func Lock(ctx workflow.Context, in LockInput) error {
	l := &lock{key: in.Key, holder: in.Holder, queue: in.Queue, interval: in.CheckInterval, released: in.Released,
		acquire: workflow.GetSignalChannel(ctx, api.LockAcquireSignal),
		release: workflow.GetSignalChannel(ctx, api.LockReleaseSignal)}
	if l.interval <= 0 {
		l.interval = defaultCheckInterval
	}
	if err := workflow.SetQueryHandler(ctx, api.StatusQuery, l.status); err != nil {
		return err
	}
	for {
		l.grant(ctx)
		l.publish(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(l.acquire, func(c workflow.ReceiveChannel, _ bool) {
			var req LockRequest
			c.Receive(ctx, &req)
			l.onAcquire(ctx, req)
		})
		sel.AddReceive(l.release, func(c workflow.ReceiveChannel, _ bool) {
			var rel LockRelease
			c.Receive(ctx, &rel)
			l.onRelease(rel)
		})
		l.watch(ctx, sel)
		sel.Select(ctx)
		l.grant(ctx)

		long := workflow.GetInfo(ctx).GetCurrentHistoryLength() > lockEventsBeforeContinue
		if !l.idle() && !long {
			continue
		}
		// Drain what arrived meanwhile before closing or continuing, so no request is lost:
		// granting waits for its signal to go out, and requests that arrive meanwhile sit in
		// the channels, where ending the run would drop them.
		l.drain(ctx)
		l.grant(ctx)
		for l.acquire.Len() > 0 || l.release.Len() > 0 {
			if workflow.GetVersion(ctx, lockDrainAgain, workflow.DefaultVersion, 1) < 1 {
				break
			}
			l.drain(ctx)
			l.grant(ctx)
		}
		if l.idle() {
			return nil
		}
		if long {
			return workflow.NewContinueAsNewError(ctx, Lock, LockInput{Key: l.key, Holder: l.holder, Queue: l.queue,
				CheckInterval: in.CheckInterval, Released: l.released})
		}
	}
}

// lock is one lock workflow's state: who holds it and who waits, in order.
type lock struct {
	key              string
	holder           string
	queue            []LockRequest
	acquire, release workflow.ReceiveChannel
	interval         time.Duration
	released         []string
	// check fires when the holder is next due a liveness check; nil when none is armed.
	check       workflow.Future
	cancelCheck workflow.CancelFunc
	// version is livenessVersion's, read the first time a check would be armed.
	version *workflow.Version
}

func (l *lock) idle() bool { return l.holder == "" && len(l.queue) == 0 }

func (l *lock) status() (LockStatus, error) {
	st := LockStatus{Key: l.key, Holder: l.holder, Queue: append([]LockRequest{}, l.queue...), Released: l.released}
	if n := len(l.released); n > 0 {
		st.LastReason = l.released[n-1]
	}
	return st, nil
}

// forget records that the lock let go of owner without its release.
func (l *lock) forget(ctx workflow.Context, owner, why string) {
	workflow.GetLogger(ctx).Warn("lock lets go of an owner", "owner", owner, "reason", why)
	l.released = append(l.released, owner+": "+why)
	if len(l.released) > maxReleased {
		l.released = l.released[len(l.released)-maxReleased:]
	}
}

// grant hands a free lock to the first waiting owner that is still there.
func (l *lock) grant(ctx workflow.Context) {
	for l.holder == "" && len(l.queue) > 0 {
		l.holder, l.queue = l.queue[0].Owner, l.queue[1:]
		// The owner may be gone (cancelled while queued); it would never release, so skip it.
		if err := workflow.SignalExternalWorkflow(ctx, l.holder, "", api.LockGrantedSignal, LockGrant{Key: l.key}).Get(ctx, nil); err != nil {
			l.forget(ctx, l.holder, "skipped: gone when its turn came ("+err.Error()+")")
			l.holder = ""
		}
	}
}

// onAcquire queues a request once; the holder asking again is told again that it holds it.
func (l *lock) onAcquire(ctx workflow.Context, req LockRequest) {
	if req.Owner == l.holder {
		_ = workflow.SignalExternalWorkflow(ctx, l.holder, "", api.LockGrantedSignal, LockGrant{Key: l.key}).Get(ctx, nil)
		return
	}
	for _, q := range l.queue {
		if q.Owner == req.Owner {
			return
		}
	}
	l.queue = append(l.queue, req)
	if req.Supersede && l.holder != "" {
		_ = workflow.SignalExternalWorkflow(ctx, l.holder, "", api.SupersedeSignal, SupersedeRequest{By: req.Owner}).Get(ctx, nil)
	}
}

// onRelease frees the lock, or drops a waiting owner that gave up.
func (l *lock) onRelease(rel LockRelease) {
	if rel.Owner == l.holder {
		l.holder = ""
		return
	}
	for i, q := range l.queue {
		if q.Owner == rel.Owner {
			l.queue = append(l.queue[:i], l.queue[i+1:]...)
			return
		}
	}
}

// drain handles every signal already delivered, without blocking.
func (l *lock) drain(ctx workflow.Context) {
	for {
		var req LockRequest
		var rel LockRelease
		switch {
		case l.acquire.ReceiveAsync(&req):
			l.onAcquire(ctx, req)
		case l.release.ReceiveAsync(&rel):
			l.onRelease(rel)
		default:
			return
		}
	}
}
