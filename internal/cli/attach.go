package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/imagewatch"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

// attachWatched lets `starter promote` follow a promotion the image watch (an ECR push event
// or the poll) already started for the same tag, instead of refusing it: CI pushes, then runs
// `starter promote --wait`, and the push's event may win the race. It attaches only when the
// watched run goes where this request asks (the watch goes as far as policy allows without a
// person, so --to must be empty or that env); a run someone started, or one that stops short
// of --to, is refused as before.
func attachWatched(g *globals, cfg *config.Config, o promoteOptions, last string) func(context.Context, client.Client, string) error {
	return func(ctx context.Context, c client.Client, runID string) error {
		id := api.PromoteID(o.service, o.tag)
		who, err := requesterOf(ctx, c, id, runID)
		if err != nil {
			return err
		}
		if !imagewatch.IsWatch(who) {
			return badInput(fmt.Errorf("%s is already running (requested by %s): follow it with `starter watch %s`, approve it with `starter approve %s`", id, who, id, id))
		}
		auto, err := policy.Path(cfg, policy.Input{Service: o.service, Tag: o.tag})
		if err != nil {
			return badInput(err)
		}
		if watchedLast := auto[len(auto)-1].Name; watchedLast != last {
			return badInput(fmt.Errorf("%s is already running, started by %s, and stops at %s: wait for it (`starter watch %s`), then promote --to %s again",
				id, who, watchedLast, id, last))
		}
		fmt.Fprintf(g.out, "%s was already started by %s (the pushed image's promotion): following it\n", id, who)
		return nil
	}
}

// requesterOf asks a run who requested it, waiting briefly for a run that has not yet
// answered its first task.
func requesterOf(ctx context.Context, c client.Client, id, runID string) (string, error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		v, err := c.QueryWorkflow(ctx, id, runID, api.StatusQuery)
		var st api.Status
		if err == nil {
			if err = v.Get(&st); err == nil && strings.TrimSpace(st.Requester) != "" {
				return st.Requester, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s is already running, and it did not say who requested it (is a worker running?): %v", id, err)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
