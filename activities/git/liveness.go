package git

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
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

// ErrRateLimited is the type of the error a write fails with when the Git host rate-limits
// it for longer than a provider waits in place: retryable, its next attempt no earlier than
// the host asked (Retry-After).
const ErrRateLimited = "GitRateLimited"

// rateLimited fails the attempt so that Temporal schedules the next one after wait, not
// after the retry policy's shorter interval: hammering GitHub during a secondary rate limit
// only extends it.
func rateLimited(err error, wait time.Duration, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...) + ": " + err.Error() + fmt.Sprintf(" (retrying in %s, as the server asked)", wait)
	return temporal.NewApplicationErrorWithOptions(msg, ErrRateLimited, temporal.ApplicationErrorOptions{NextRetryDelay: wait, Cause: err})
}
