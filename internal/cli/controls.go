package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/workflows/api"
)

// parseUntil reads --until: an RFC 3339 time (2026-11-30T18:00:00Z), a UTC time without
// seconds (2026-11-30T18:00), a UTC clock time today (18:00; tomorrow if it has passed), or a
// duration from now (2h, 90m). It must be in the future.
func parseUntil(s string, now time.Time) (time.Time, error) {
	now = now.UTC()
	var t time.Time
	if d, err := time.ParseDuration(s); err == nil {
		t = now.Add(d)
	} else if t, err = time.Parse(time.RFC3339, s); err == nil {
	} else if t, err = time.Parse("2006-01-02T15:04", s); err == nil {
	} else if c, err := time.Parse("15:04", s); err == nil {
		t = time.Date(now.Year(), now.Month(), now.Day(), c.Hour(), c.Minute(), 0, 0, time.UTC)
		if !t.After(now) {
			t = t.AddDate(0, 0, 1)
		}
	} else {
		return time.Time{}, fmt.Errorf("--until %q is not a time: use RFC 3339 (2026-11-30T18:00:00Z), a UTC clock time (18:00) or a duration (2h)", s)
	}
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("--until %q is not in the future (now %s)", s, now.Format(time.RFC3339))
	}
	return t.UTC().Truncate(time.Second), nil
}

// controlTarget is the env(s) a freeze or unfreeze names: --env ENV or --all.
type controlTarget struct {
	env string
	all bool
}

func (t controlTarget) validate() error {
	switch {
	case t.env == "" && !t.all:
		return errors.New("name the environment: --env ENV, or --all for every environment")
	case t.env != "" && t.all:
		return errors.New("--env and --all contradict each other: pick one")
	}
	return nil
}

// envs resolves the target against idp.yaml.
func (t controlTarget) envs(cfg *config.Config) ([]string, error) {
	if t.all {
		return cfg.EnvNames(), nil
	}
	if _, err := cfg.Env(t.env); err != nil {
		return nil, err
	}
	return []string{t.env}, nil
}

// allowed refuses up front someone idp.yaml does not list for env: the workflow would refuse
// them too, after reading the worker's idp.yaml.
func allowed(cfg *config.Config, env, who, op string) error {
	rules := controls.RulesFor(cfg, env)
	if rules.Find(who) == nil {
		return fmt.Errorf("%s may not %s %s: the people idp.yaml lists for it are %s (its gates' approvers, or everyone under people: where it lists none)",
			who, op, env, strings.Join(rules.Names(), ", "))
	}
	return nil
}

// sendControl signs req as who (as requests are: --key, $IDP_SIGNING_KEY, $IDP_KEYS_DIR/<name>,
// ssh-agent) and sends it to env's Controls workflow as the op update, starting the workflow
// when it does not run yet. A refusal (validator or handler) is bad input: nothing changed.
func (g *globals) sendControl(ctx context.Context, c client.Client, cfg *config.Config, sign signFlags, op string, req controls.Request) (controls.Result, error) {
	var res controls.Result
	if err := allowed(cfg, req.Env, req.Who, op); err != nil {
		return res, badInput(err)
	}
	req.SignedAt = g.signingTime()
	var err error
	if req.Signature, req.SignedAt, err = g.signRequest(sign, cfg, req.Who, req.Statement(op)); err != nil {
		return res, err
	}
	id := controls.WorkflowID(req.Env)
	start := c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{ID: id, TaskQueue: api.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		StaticSummary:            "freezes and pins of " + req.Env}, api.ControlsWorkflowName, controls.State{Env: req.Env})
	h, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{UpdateName: op, Args: []any{req}, WaitForStage: client.WorkflowUpdateStageCompleted}})
	if err == nil {
		err = h.Get(ctx, &res)
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return res, badInput(fmt.Errorf("%s in %s refused: %s", op, req.Env, app.Message()))
	}
	if err != nil {
		return res, fmt.Errorf("sending %s to %s: %w", op, id, err)
	}
	return res, nil
}

// controlsState reads every env's freezes and pins, in idp.yaml's order.
func controlsState(ctx context.Context, c client.Client, cfg *config.Config) ([]controls.State, error) {
	out := []controls.State{}
	for _, env := range cfg.EnvNames() {
		st, err := controls.Get(ctx, c, env)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// printControls prints each env's freezes and pins, one line each.
func printControls(g *globals, states []controls.State) {
	for _, st := range states {
		if len(st.Freezes) == 0 && len(st.Pins) == 0 {
			fmt.Fprintf(g.out, "%s: open\n", st.Env)
			continue
		}
		for _, f := range st.Freezes {
			fmt.Fprintf(g.out, "%s: %s\n", st.Env, controls.Describe([]controls.Freeze{f}))
		}
		for _, p := range st.Pins {
			fmt.Fprintf(g.out, "%s: %s\n", st.Env, controls.DescribePin(p))
		}
		if n := len(st.Waiting); n > 0 {
			names := make([]string, 0, n)
			for _, w := range st.Waiting {
				names = append(names, w.Owner)
			}
			fmt.Fprintf(g.out, "%s: waiting at the door: %s\n", st.Env, strings.Join(names, ", "))
		}
	}
}

// checkPins refuses a promotion into an env on its path where the service is pinned, unless
// unpin: then it lifts those pins first, as who, signed as `starter unpin` would be.
func (g *globals) checkPins(ctx context.Context, c client.Client, cfg *config.Config, o promoteOptions, envs []string, who string) error {
	for _, env := range envs {
		st, err := controls.Get(ctx, c, env)
		if err != nil && !o.unpin && controls.Unanswered(err) {
			// A worker too busy to answer in time (a hundred promotions at once): the run's
			// door asks the same workflow, waits for its answer and refuses a pinned service.
			g.notes = append(g.notes, fmt.Sprintf("%s did not answer in time, so its pins were not checked here: the run's door refuses %s if it is pinned there",
				controls.WorkflowID(env), o.service))
			continue
		}
		if err != nil {
			return err
		}
		pin := controls.PinOf(st.Pins, o.service)
		if pin == nil {
			continue
		}
		if !o.unpin {
			return badInput(fmt.Errorf("%s in %s: not promoting %s there. Lift it with `starter unpin --service %s --env %s`, or pass --unpin",
				controls.DescribePin(*pin), env, o.tag, o.service, env))
		}
		res, err := g.sendControl(ctx, c, cfg, o.sign, controls.OpUnpin, controls.Request{Env: env, Service: o.service, Who: who,
			Reason: "starter promote --unpin " + o.tag})
		if err != nil {
			return err
		}
		fmt.Fprintln(g.out, res.Message)
	}
	return nil
}

// pins dials Temporal and runs checkPins over the promotion's envs.
func (g *globals) pins(ctx context.Context, cfg *config.Config, o promoteOptions, envs []string, who string) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	defer c.Close()
	return g.checkPins(ctx, c, cfg, o, envs, who)
}
