package git

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
)

// WriteHeartbeat is how often a write heartbeats while it runs. The workflows give writes a
// heartbeat timeout a few times longer (WriteHeartbeatTimeout), so a worker that dies in the
// middle of a push is noticed within seconds and the write is retried on another worker,
// instead of after the whole start-to-close timeout.
const WriteHeartbeat = 5 * time.Second

// WriteHeartbeatTimeout is the heartbeat timeout the workflows set on WriteImage and
// MergeProposal.
const WriteHeartbeatTimeout = 20 * time.Second

// keepAlive heartbeats every WriteHeartbeat until the returned stop is called. A write blocks
// in one provider call (a push, a rate limit waited out in place) without points of its own
// to heartbeat from; what it proves is that the worker is alive. Outside an activity (unit
// tests) it does nothing.
func keepAlive(ctx context.Context, what string) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(WriteHeartbeat)
		defer t.Stop()
		for {
			activity.RecordHeartbeat(ctx, what)
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}
