package workflows

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/internal/imagewatch"
	"github.com/alexpermiakov/idp/internal/imagewatch/schedule"
	"github.com/alexpermiakov/idp/workflows/api"
)

// watchWorld is what the stand-in activities of the watch answer: the tags in ECR, newest
// push first, and what each entry env runs.
type watchWorld struct {
	mu      sync.Mutex
	images  []imagewatch.Image
	running map[string]string
}

// watchWorker runs ImageWatch with stand-ins for ECR and Git (the decision is the real
// imagewatch.Decide over the real idp.yaml), the real Signaller that starts promotions, and a
// Promote that only records that it ran.
func watchWorker(t *testing.T, c client.Client, cfg *config.Config, world *watchWorld) {
	t.Helper()
	w := worker.New(c, api.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(ImageWatch, workflowOptions(api.ImageWatchWorkflowName))
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, in api.PromoteInput) (api.Status, error) {
		return api.Status{WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID, Requester: in.Requester, Stage: api.StageDone}, nil
	}, workflowOptions(api.PromoteWorkflowName))
	w.RegisterWorkflowWithOptions(Controls, workflowOptions(controls.WorkflowName))
	w.RegisterActivity(&platform.Signaller{Client: c})
	w.RegisterActivityWithOptions(func(context.Context, platform.WatchToolingInput) (platform.WatchToolingOutput, error) {
		return platform.WatchToolingOutput{Tooling: cfg.Tooling}, nil
	}, activity.RegisterOptions{Name: "WatchTooling"})
	w.RegisterActivityWithOptions(func(context.Context, aws.ListImagesInput) (aws.ListImagesOutput, error) {
		world.mu.Lock()
		defer world.mu.Unlock()
		return aws.ListImagesOutput{Images: append([]imagewatch.Image(nil), world.images...), PushTimes: true}, nil
	}, activity.RegisterOptions{Name: "ListImages"})
	w.RegisterActivityWithOptions(func(_ context.Context, in platform.PlanWatchInput) (platform.PlanWatchOutput, error) {
		world.mu.Lock()
		defer world.mu.Unlock()
		return platform.PlanWatchOutput{Decisions: imagewatch.Decide(cfg, in.Service, in.Images, world.running)}, nil
	}, activity.RegisterOptions{Name: "PlanWatch"})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
}

// look triggers the service's schedule and returns what that look did.
func look(t *testing.T, c client.Client, service string) api.ImageWatchResult {
	t.Helper()
	ctx := context.Background()
	h := c.ScheduleClient().GetHandle(ctx, api.ImageWatchID(service))
	before, err := h.Describe(ctx)
	require.NoError(t, err)
	require.NoError(t, h.Trigger(ctx, client.ScheduleTriggerOptions{}))
	var id string
	require.Eventually(t, func() bool {
		d, err := h.Describe(ctx)
		if err != nil || d.Info.NumActions <= before.Info.NumActions || len(d.Info.RecentActions) == 0 {
			return false
		}
		id = d.Info.RecentActions[len(d.Info.RecentActions)-1].StartWorkflowResult.WorkflowID
		return true
	}, 30*time.Second, 200*time.Millisecond, "the schedule never started a look")
	var res api.ImageWatchResult
	require.NoError(t, c.GetWorkflow(ctx, id, "").Get(ctx, &res))
	return res
}

// promotions counts the runs of a promotion's ID, open or closed, as visibility lists them.
func promotions(t *testing.T, c client.Client, id string) int {
	t.Helper()
	n := 0
	require.Eventually(t, func() bool {
		r, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default", Query: fmt.Sprintf("WorkflowId = '%s'", id)})
		if err != nil {
			return false
		}
		n = len(r.Executions)
		return n > 0
	}, 10*time.Second, 200*time.Millisecond, "visibility lists no run of %s", id)
	return n
}

func TestImageWatchStartsEachTagOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("uses the Temporal dev server")
	}
	cfg, err := config.Load(filepath.Join("..", "idp.yaml"))
	require.NoError(t, err)
	cfg.ImageWatch.Poll.Paused = true // looks only when the test triggers one
	c := devServer(t)
	t0 := time.Now().UTC().Truncate(time.Second)
	world := &watchWorld{running: map[string]string{"dev": "sha-0000000", "staging": "v1.2.3"},
		images: []imagewatch.Image{
			{Tag: "sha-aaaaaaa", Digest: "sha256:aa", PushedAt: t0},
			{Tag: "v1.2.2", Digest: "sha256:bb", PushedAt: t0.Add(-time.Minute)}, // older than staging's v1.2.3
			{Tag: "sha-0000000", Digest: "sha256:00", PushedAt: t0.Add(-2 * time.Minute)},
		}}
	watchWorker(t, c, cfg, world)
	ctx := context.Background()
	did, err := schedule.EnsureSchedules(ctx, c.ScheduleClient(), cfg)
	require.NoError(t, err)
	require.Len(t, did, 2)
	require.Contains(t, did[0], "created image-watch-time-service (every 1m0s, paused true)")
	did, err = schedule.EnsureSchedules(ctx, c.ScheduleClient(), cfg)
	require.NoError(t, err, "a second start updates what exists")
	require.Contains(t, did[0], "updated image-watch-time-service")

	// The event comes first; the poll then finds the tag handled.
	push := imagewatch.Push{Service: "time-service", Tag: "sha-aaaaaaa", Digest: "sha256:aa", Entry: "dev", Last: "dev"}
	started, err := imagewatch.Start(ctx, c, api.PromoteStart(push, imagewatch.RequesterEvent))
	require.NoError(t, err)
	require.False(t, started.Already)
	var st api.Status
	require.NoError(t, c.GetWorkflow(ctx, started.WorkflowID, "").Get(ctx, &st))
	require.Equal(t, imagewatch.RequesterEvent, st.Requester)
	res := look(t, c, "time-service")
	require.Empty(t, res.Started, res.Notes)
	require.Contains(t, res.Notes, "sha-aaaaaaa is the newest tag entering dev: promote-time-service-sha-aaaaaaa was started before (by an event or an earlier look)")
	require.Contains(t, res.Notes, "the newest tag, v1.2.2, is not newer than v1.2.3, which staging runs: the watch does not promote backwards")
	// A redelivery of the event after the run closed starts nothing either.
	again, err := imagewatch.Start(ctx, c, api.PromoteStart(push, imagewatch.RequesterEvent))
	require.NoError(t, err)
	require.True(t, again.Already)
	require.Equal(t, started.RunID, again.RunID)

	// The poll comes first (the event was lost); the late event then finds the tag handled.
	world.mu.Lock()
	world.images = append([]imagewatch.Image{{Tag: "sha-bbbbbbb", Digest: "sha256:cc", PushedAt: t0.Add(time.Minute)}}, world.images...)
	world.mu.Unlock()
	res = look(t, c, "time-service")
	require.Equal(t, []string{"promote-time-service-sha-bbbbbbb"}, res.Started, res.Notes)
	require.NoError(t, c.GetWorkflow(ctx, res.Started[0], "").Get(ctx, &st))
	require.Equal(t, imagewatch.RequesterPoll, st.Requester)
	late, err := imagewatch.Start(ctx, c, api.PromoteStart(imagewatch.Push{Service: "time-service", Tag: "sha-bbbbbbb", Entry: "dev", Last: "dev"}, imagewatch.RequesterEvent))
	require.NoError(t, err)
	require.True(t, late.Already)
	res = look(t, c, "time-service")
	require.Empty(t, res.Started, "a look after that starts nothing: %v", res.Notes)

	// Nothing older than what dev runs goes there.
	world.mu.Lock()
	world.running["dev"] = "sha-bbbbbbb"
	world.images = append(world.images, imagewatch.Image{Tag: "sha-ccccccc", Digest: "sha256:dd", PushedAt: t0.Add(-time.Hour)})
	world.mu.Unlock()
	res = look(t, c, "time-service")
	require.Empty(t, res.Started, res.Notes)
	require.Contains(t, res.Notes, "dev already runs the newest tag, sha-bbbbbbb")
	for _, id := range []string{"promote-time-service-sha-aaaaaaa", "promote-time-service-sha-bbbbbbb"} {
		require.Equal(t, 1, promotions(t, c, id), id)
	}
	_, err = c.DescribeWorkflow(ctx, "promote-time-service-sha-ccccccc", "")
	require.Error(t, err, "the older tag was never started")
	_, err = c.DescribeWorkflow(ctx, "promote-time-service-v1.2.2", "")
	require.Error(t, err, "the older release was never started")

	// A pinned env is left alone (a rollback there is not undone by the next push).
	world.mu.Lock()
	world.images = append([]imagewatch.Image{{Tag: "sha-ddddddd", Digest: "sha256:ee", PushedAt: t0.Add(2 * time.Minute)}}, world.images...)
	world.mu.Unlock()
	ctl, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: controls.WorkflowID("dev"), TaskQueue: api.TaskQueue}, controls.WorkflowName,
		controls.State{Env: "dev", Pins: []controls.Pin{{Service: "time-service", Who: "idp (rollback)", Reason: "rolled back to sha-bbbbbbb"}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.TerminateWorkflow(ctx, ctl.GetID(), "", "test over") })
	res = look(t, c, "time-service")
	require.Empty(t, res.Started, res.Notes)
	require.Contains(t, res.Notes, "sha-ddddddd is the newest tag entering dev: not started, time-service is pinned in dev by idp (rollback): rolled back to sha-bbbbbbb")
	require.NoError(t, c.TerminateWorkflow(ctx, ctl.GetID(), "", "unpinned"))
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: controls.WorkflowID("dev"), TaskQueue: api.TaskQueue}, controls.WorkflowName,
		controls.State{Env: "dev"})
	require.NoError(t, err)
	res = look(t, c, "time-service")
	require.Equal(t, []string{"promote-time-service-sha-ddddddd"}, res.Started, "once the pin is gone the watch goes on: %v", res.Notes)

	// starter image-watch enable / disable.
	require.NoError(t, schedule.SetPaused(ctx, c.ScheduleClient(), cfg, false, "enabled by test"))
	sts, err := schedule.Statuses(ctx, c.ScheduleClient(), cfg)
	require.NoError(t, err)
	require.Len(t, sts, 2)
	require.True(t, sts[0].Exists)
	require.False(t, sts[0].Paused)
	require.Equal(t, "enabled by test", sts[0].Note)
	require.Equal(t, time.Minute, sts[0].Every)
	require.GreaterOrEqual(t, sts[0].Actions, int64(4))
	require.NoError(t, schedule.SetPaused(ctx, c.ScheduleClient(), cfg, true, "disabled by test"))
	sts, err = schedule.Statuses(ctx, c.ScheduleClient(), cfg)
	require.NoError(t, err)
	require.True(t, sts[1].Paused)

	// A service taken out of idp.yaml loses its schedule at the next start (schedules are
	// listed through visibility, which may lag a moment).
	fewer := *cfg
	fewer.Tooling.Repositories = map[string]string{"time-service": cfg.Tooling.Repositories["time-service"]}
	require.Eventually(t, func() bool {
		did, err := schedule.EnsureSchedules(ctx, c.ScheduleClient(), &fewer)
		require.NoError(t, err)
		return slices.Contains(did, "deleted image-watch-version-service (version-service is no longer in tooling.repositories)")
	}, 30*time.Second, time.Second)
	_, err = c.ScheduleClient().GetHandle(ctx, api.ImageWatchID("version-service")).Describe(ctx)
	require.Error(t, err, "the schedule is gone")
	_, err = c.ScheduleClient().GetHandle(ctx, api.ImageWatchID("time-service")).Describe(ctx)
	require.NoError(t, err, "the listed service keeps its schedule")
}
