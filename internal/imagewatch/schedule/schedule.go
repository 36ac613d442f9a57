// Package schedule keeps the image watch's Temporal Schedules, one per service: created or
// updated at worker start-up, paused and resumed by `starter image-watch`.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/schedules"
	"github.com/alexpermiakov/idp/workflows/api"
)

// schedule is one service's polling schedule as idp.yaml describes it.
func schedule(cfg *config.Config, service string) client.ScheduleOptions {
	every := cfg.ImageWatch.Poll.Interval.Std()
	return client.ScheduleOptions{
		ID:   api.ImageWatchID(service),
		Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}},
		Action: &client.ScheduleWorkflowAction{ID: api.ImageWatchID(service), Workflow: api.ImageWatchWorkflowName,
			Args: []any{api.ImageWatchInput{Service: service}}, TaskQueue: api.TaskQueue,
			WorkflowRunTimeout: max(every, time.Minute)},
		// One look at a time; a look missed while the server was down is not worth more than
		// the next one.
		Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow: max(every, 10*time.Second),
		Paused:        cfg.ImageWatch.Poll.Paused,
		Note:          "created by idp's worker from idp.yaml (imageWatch.poll)",
	}
}

// Services lists the watched services in order.
func Services(cfg *config.Config) []string {
	out := make([]string, 0, len(cfg.Tooling.Repositories))
	for svc := range cfg.Tooling.Repositories {
		out = append(out, svc)
	}
	sort.Strings(out)
	return out
}

// EnsureSchedules creates each service's polling schedule, or updates its interval and action
// to idp.yaml's, keeping whether it is paused (a person paused it with `starter image-watch
// disable`), and deletes the schedules of services idp.yaml no longer lists, so a removed
// service is not polled forever. It reports what it did per service; run it at every worker
// start.
func EnsureSchedules(ctx context.Context, sc client.ScheduleClient, cfg *config.Config) ([]string, error) {
	var did []string
	var errs []error
	for _, svc := range Services(cfg) {
		what, err := ensure(ctx, sc, cfg, svc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		did = append(did, what)
	}
	gone, err := removeStale(ctx, sc, cfg)
	return append(did, gone...), errors.Join(append(errs, err)...)
}

// removeStale deletes the image-watch schedules of services not in tooling.repositories.
func removeStale(ctx context.Context, sc client.ScheduleClient, cfg *config.Config) ([]string, error) {
	return schedules.Prune(ctx, sc, api.ImageWatchIDPrefix, func(svc string) (string, bool) {
		return svc + " is no longer in tooling.repositories", cfg.Tooling.Repositories[svc] == ""
	})
}

func ensure(ctx context.Context, sc client.ScheduleClient, cfg *config.Config, svc string) (string, error) {
	want := schedule(cfg, svc)
	created, err := schedules.Ensure(ctx, sc, want)
	switch {
	case err != nil:
		return "", err
	case created:
		return fmt.Sprintf("created %s (every %s, paused %v)", want.ID, cfg.ImageWatch.Poll.Interval.Std(), want.Paused), nil
	}
	return fmt.Sprintf("updated %s (every %s)", want.ID, cfg.ImageWatch.Poll.Interval.Std()), nil
}

// SetPaused pauses or resumes every service's schedule, creating missing ones first, with a
// note saying who did it.
func SetPaused(ctx context.Context, sc client.ScheduleClient, cfg *config.Config, paused bool, note string) error {
	var errs []error
	for _, svc := range Services(cfg) {
		want := schedule(cfg, svc)
		want.Paused, want.Note = paused, note
		_, err := sc.Create(ctx, want)
		if err == nil {
			continue
		}
		if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
			errs = append(errs, fmt.Errorf("creating schedule %s: %w", want.ID, err))
			continue
		}
		h := sc.GetHandle(ctx, want.ID)
		if paused {
			err = h.Pause(ctx, client.SchedulePauseOptions{Note: note})
		} else {
			err = h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: note})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", want.ID, err))
		}
	}
	return errors.Join(errs...)
}

// Status is one service's schedule as `starter image-watch status` shows it.
type Status struct {
	Service  string        `json:"service"`
	Schedule string        `json:"schedule"`
	Exists   bool          `json:"exists"`
	Paused   bool          `json:"paused"`
	Note     string        `json:"note,omitempty"`
	Every    time.Duration `json:"every,omitempty"`
	Actions  int64         `json:"actions"`
	LastRun  time.Time     `json:"lastRun,omitzero"`
	NextRun  time.Time     `json:"nextRun,omitzero"`
}

// Statuses describes every service's schedule.
func Statuses(ctx context.Context, sc client.ScheduleClient, cfg *config.Config) ([]Status, error) {
	var out []Status
	for _, svc := range Services(cfg) {
		st := Status{Service: svc, Schedule: api.ImageWatchID(svc)}
		d, err := sc.GetHandle(ctx, st.Schedule).Describe(ctx)
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			out = append(out, st)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("describing schedule %s: %w", st.Schedule, err)
		}
		st.Exists = true
		if s := d.Schedule.State; s != nil {
			st.Paused, st.Note = s.Paused, s.Note
		}
		if sp := d.Schedule.Spec; sp != nil && len(sp.Intervals) > 0 {
			st.Every = sp.Intervals[0].Every
		}
		st.Actions = int64(d.Info.NumActions)
		if n := len(d.Info.RecentActions); n > 0 {
			st.LastRun = d.Info.RecentActions[n-1].ActualTime
		}
		if len(d.Info.NextActionTimes) > 0 {
			st.NextRun = d.Info.NextActionTimes[0]
		}
		out = append(out, st)
	}
	return out, nil
}
