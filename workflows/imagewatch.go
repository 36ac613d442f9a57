package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/imagewatch"
	"github.com/alexpermiakov/idp/workflows/api"
)

// ImageWatch is one look of the polling fallback at a service's ECR repository, started by
// the service's schedule: list the tags, decide per entry env which new tag (if any) to
// promote, never backwards, and start its promotion unless a run of that ID exists (an event
// may have started it already; then nothing new starts), unless the service is pinned in
// that env (starter pin, or after a rollback there). It keeps no state between looks:
// the promotions' workflow IDs are the record of what was handled.
func ImageWatch(ctx workflow.Context, in api.ImageWatchInput) (api.ImageWatchResult, error) {
	var (
		pa  *platform.Activities
		ea  *aws.Activities
		sig *platform.Signaller
	)
	res := api.ImageWatchResult{Started: []string{}, Notes: []string{}}
	var tooling platform.WatchToolingOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("tooling account of "+in.Service, time.Minute)),
		pa.WatchTooling, platform.WatchToolingInput{Service: in.Service}).Get(ctx, &tooling); err != nil {
		return res, err
	}
	var images aws.ListImagesOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("list "+in.Service+"'s images in ECR", time.Minute)),
		ea.ListImages, aws.ListImagesInput{Service: in.Service, Tooling: tooling.Tooling}).Get(ctx, &images); err != nil {
		return res, err
	}
	var plan platform.PlanWatchOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("what do the entry envs run?", 2*time.Minute)),
		pa.PlanWatch, platform.PlanWatchInput{Service: in.Service, Images: images.Images}).Get(ctx, &plan); err != nil {
		return res, err
	}
	logger := workflow.GetLogger(ctx)
	for _, d := range plan.Decisions {
		if d.Push.Tag == "" {
			res.Notes = append(res.Notes, d.Reason)
			continue
		}
		var pinned platform.PinnedOutput
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("is "+in.Service+" pinned in "+d.Env+"?", time.Minute)),
			sig.Pinned, platform.PinnedInput{Env: d.Env, Service: in.Service}).Get(ctx, &pinned); err != nil {
			return res, err
		}
		if pinned.Pinned {
			res.Notes = append(res.Notes, fmt.Sprintf("%s: not started, %s is pinned in %s by %s: %s", d.Reason, in.Service, d.Env, pinned.Pin.Who, pinned.Pin.Reason))
			continue
		}
		var started imagewatch.Started
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("start "+api.PromoteID(in.Service, d.Push.Tag), time.Minute)),
			sig.StartWorkflow, api.PromoteStart(d.Push, imagewatch.RequesterPoll)).Get(ctx, &started); err != nil {
			return res, err
		}
		if started.Already {
			res.Notes = append(res.Notes, fmt.Sprintf("%s: %s was started before (by an event or an earlier look)", d.Reason, started.WorkflowID))
			continue
		}
		res.Started = append(res.Started, started.WorkflowID)
		res.Notes = append(res.Notes, d.Reason+": started "+started.WorkflowID)
		logger.Info("image watch started a promotion", "service", in.Service, "tag", d.Push.Tag, "env", d.Env, "promotion", started.WorkflowID)
	}
	return res, nil
}
