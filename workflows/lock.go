package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// LockInput starts a lock workflow for one key, e.g. "time-service/prod".
type LockInput struct {
	Key string `json:"key"`
	// Holder and Queue carry the lock's state across continue-as-new.
	Holder string        `json:"holder,omitempty"`
	Queue  []LockRequest `json:"queue,omitempty"`
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

// Lock serializes promotions of one service into one env: it grants the lock to one owner at
// a time, in request order. A request with Supersede asks the holder to step aside; only a
// holder still waiting for an approval does. Started (and signalled) with SignalWithStart.
func Lock(ctx workflow.Context, in LockInput) error {
	acquire := workflow.GetSignalChannel(ctx, LockAcquireSignal)
	release := workflow.GetSignalChannel(ctx, LockReleaseSignal)
	holder, queue := in.Holder, in.Queue
	logger := workflow.GetLogger(ctx)

	grant := func() {
		for holder == "" && len(queue) > 0 {
			holder, queue = queue[0].Owner, queue[1:]
			// The owner may be gone (cancelled while queued); it would never release, so skip it.
			if err := workflow.SignalExternalWorkflow(ctx, holder, "", LockGrantedSignal, LockGrant{Key: in.Key}).Get(ctx, nil); err != nil {
				logger.Warn("lock owner is gone, skipping it", "owner", holder, "error", err)
				holder = ""
			}
		}
	}
	handleAcquire := func(req LockRequest) {
		if req.Owner == holder {
			_ = workflow.SignalExternalWorkflow(ctx, holder, "", LockGrantedSignal, LockGrant{Key: in.Key}).Get(ctx, nil)
			return
		}
		for _, q := range queue {
			if q.Owner == req.Owner {
				return
			}
		}
		queue = append(queue, req)
		if req.Supersede && holder != "" {
			_ = workflow.SignalExternalWorkflow(ctx, holder, "", SupersedeSignal, SupersedeRequest{By: req.Owner}).Get(ctx, nil)
		}
	}
	handleRelease := func(rel LockRelease) {
		if rel.Owner == holder {
			holder = ""
			return
		}
		for i, q := range queue {
			if q.Owner == rel.Owner {
				queue = append(queue[:i], queue[i+1:]...)
				return
			}
		}
	}

	for {
		grant()
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(acquire, func(c workflow.ReceiveChannel, _ bool) {
			var req LockRequest
			c.Receive(ctx, &req)
			handleAcquire(req)
		})
		sel.AddReceive(release, func(c workflow.ReceiveChannel, _ bool) {
			var rel LockRelease
			c.Receive(ctx, &rel)
			handleRelease(rel)
		})
		sel.Select(ctx)
		grant()

		idle := holder == "" && len(queue) == 0
		long := workflow.GetInfo(ctx).GetCurrentHistoryLength() > lockEventsBeforeContinue
		if !idle && !long {
			continue
		}
		// Drain what arrived meanwhile before closing or continuing, so no request is lost.
		for {
			var req LockRequest
			var rel LockRelease
			if acquire.ReceiveAsync(&req) {
				handleAcquire(req)
				continue
			}
			if release.ReceiveAsync(&rel) {
				handleRelease(rel)
				continue
			}
			break
		}
		grant()
		if holder == "" && len(queue) == 0 {
			return nil
		}
		if long {
			return workflow.NewContinueAsNewError(ctx, Lock, LockInput{Key: in.Key, Holder: holder, Queue: queue})
		}
	}
}
