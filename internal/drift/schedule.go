// Package drift keeps the drift schedules, one per env (drift-<env>): created or updated at
// worker start-up from idp.yaml's environments[].drift, deleted when an env goes or its
// checks are switched off.
package drift

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/schedules"
	"github.com/alexpermiakov/idp/workflows/api"
)

// Schedule is env's drift schedule as idp.yaml describes it.
func Schedule(env *config.Environment) client.ScheduleOptions {
	every := env.Drift.Every.Std()
	return client.ScheduleOptions{
		ID:   api.DriftID(env.Name),
		Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}},
		Action: &client.ScheduleWorkflowAction{ID: api.DriftID(env.Name), Workflow: api.DriftWorkflowName,
			Args: []any{api.DriftInput{Env: env.Name}}, TaskQueue: api.TaskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(api.AttrKind.ValueSet(api.KindDrift),
				api.AttrEnvironment.ValueSet(env.Name), api.AttrStage.ValueSet(string(api.StagePreparing))),
			// A check that runs longer than its interval is stuck: end it before the next.
			WorkflowRunTimeout: max(every, time.Hour)},
		// One check at a time; checks missed while the server was down are not worth more than
		// the next one.
		Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow: time.Minute,
		Note:          "created by idp's worker from idp.yaml (environments[].drift)",
	}
}

// EnsureSchedules creates each env's drift schedule, or updates its interval and action to
// idp.yaml's (keeping whether a person paused it), and deletes the schedules of envs idp.yaml
// no longer lists or whose checks are off. It reports what it did; run it at every worker
// start.
func EnsureSchedules(ctx context.Context, sc client.ScheduleClient, cfg *config.Config) ([]string, error) {
	var did []string
	var errs []error
	for i := range cfg.Environments {
		env := &cfg.Environments[i]
		if !env.Drift.Enabled() {
			continue
		}
		what, err := ensure(ctx, sc, env)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		did = append(did, what)
	}
	gone, err := removeStale(ctx, sc, cfg)
	return append(did, gone...), errors.Join(append(errs, err)...)
}

func ensure(ctx context.Context, sc client.ScheduleClient, env *config.Environment) (string, error) {
	want := Schedule(env)
	created, err := schedules.Ensure(ctx, sc, want)
	switch {
	case err != nil:
		return "", err
	case created:
		return fmt.Sprintf("created %s (every %s)", want.ID, env.Drift.Every.Std()), nil
	}
	return fmt.Sprintf("updated %s (every %s)", want.ID, env.Drift.Every.Std()), nil
}

// removeStale deletes the drift schedules of envs not in idp.yaml or with drift off.
func removeStale(ctx context.Context, sc client.ScheduleClient, cfg *config.Config) ([]string, error) {
	return schedules.Prune(ctx, sc, api.DriftIDPrefix, func(name string) (string, bool) {
		env, err := cfg.Env(name)
		switch {
		case err != nil:
			return name + " is no longer in idp.yaml", true
		case !env.Drift.Enabled():
			return "drift is off for " + name + " in idp.yaml", true
		}
		return "", false
	})
}
