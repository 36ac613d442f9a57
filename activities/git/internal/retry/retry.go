// Package retry is the bounded re-read-and-retry loop the git providers share: a write that
// loses a race for a branch, or meets a server hiccup or a rate limit, starts over from fresh
// state a few times, with jitter, before the error goes back to the activity.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy bounds a retry loop: Attempts in all, and a jittered exponential delay between them
// that starts at Base and doubles up to Max.
type Policy struct {
	Attempts int
	Base     time.Duration
	Max      time.Duration
}

// Default gives a busy branch about half a minute to let a write through.
var Default = Policy{Attempts: 8, Base: 200 * time.Millisecond, Max: 5 * time.Second}

// laterError marks an error a fresh attempt may get past; after is the least the server asked
// us to wait.
type laterError struct {
	err   error
	after time.Duration
}

func (e *laterError) Error() string { return e.err.Error() }
func (e *laterError) Unwrap() error { return e.err }

// Later marks err as worth another attempt: the branch moved, or the server had a hiccup.
func Later(err error) error { return &laterError{err: err} }

// After marks err as worth another attempt once wait has passed (a rate limit's reset).
func After(err error, wait time.Duration) error { return &laterError{err: err, after: wait} }

// Retryable reports whether err, or an error it wraps, was marked by Later or After.
func Retryable(err error) bool {
	var le *laterError
	return errors.As(err, &le)
}

// Do runs op until it succeeds, fails with an error not marked by Later or After, the attempts
// run out or ctx ends. Full jitter spreads out writers racing for the same branch.
func (p Policy) Do(ctx context.Context, op func() error) error {
	for attempt := 1; ; attempt++ {
		err := op()
		var le *laterError
		if err == nil || !errors.As(err, &le) {
			return err
		}
		if attempt >= p.Attempts {
			return fmt.Errorf("giving up after %d attempts: %w", attempt, le.err)
		}
		limit := p.Base << (attempt - 1)
		if limit > p.Max || limit <= 0 {
			limit = p.Max
		}
		wait := limit/2 + rand.N(limit/2+1)
		if le.after > wait {
			wait = le.after
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), le.err)
		case <-t.C:
		}
	}
}

// deferredError is a rate limit longer than a provider waits in place: not retried by Do,
// it goes back to the activity, whose retry must wait at least after.
type deferredError struct {
	err   error
	after time.Duration
}

func (e *deferredError) Error() string { return e.err.Error() }
func (e *deferredError) Unwrap() error { return e.err }

// Defer marks err as a rate limit that lifts after wait, too long to wait out in place: Do
// returns it at once, and the activity schedules its next attempt no earlier (DeferredFor).
func Defer(err error, wait time.Duration) error { return &deferredError{err: err, after: wait} }

// DeferredFor reports how long the server asked to wait before the next attempt, when err,
// or an error it wraps, was marked by Defer.
func DeferredFor(err error) (time.Duration, bool) {
	var de *deferredError
	if errors.As(err, &de) {
		return de.after, true
	}
	return 0, false
}
