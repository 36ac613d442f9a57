package controls

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// queryTimeout bounds the query when the caller set no deadline. A worker answers queries
// between workflow tasks: with a hundred promotions going on it can take longer than the
// SDK's 10 s default.
const queryTimeout = 20 * time.Second

// Get asks env's Controls workflow for its freezes and pins: the one read of them the CLI and
// activities share. An env whose Controls workflow never ran has none.
func Get(ctx context.Context, c client.Client, env string) (State, error) {
	st := State{Env: env, Freezes: []Freeze{}, Pins: []Pin{}}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, queryTimeout)
		defer cancel()
	}
	v, err := c.QueryWorkflow(ctx, WorkflowID(env), "", Query)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("asking %s for its freezes and pins (is a worker running?): %w", WorkflowID(env), err)
	}
	if err := v.Get(&st); err != nil {
		return st, fmt.Errorf("reading %s's answer: %w", WorkflowID(env), err)
	}
	return st, nil
}

// Unanswered says err is Get's query running out of time: the Controls workflow did not
// answer, not that anything is wrong with the request.
func Unanswered(err error) bool {
	var dl *serviceerror.DeadlineExceeded
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &dl)
}
