//go:build bench

package bench

import (
	"context"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
)

// profile is where a run's time went, from its history: per activity type, the time from
// scheduling to completion (queueing on the task queue included), summed over its attempts
// and calls; "workflow tasks (local activities in them)" is the same for the run's workflow
// tasks, which run its local activities; "run" is the whole.
func (r *rig) profile(id string) map[string]float64 { return profileOf(r.events(id)) }

// profileOf is profile on a history already read.
func profileOf(events []*historypb.HistoryEvent) map[string]float64 {
	type sched struct {
		name string
		at   time.Time
	}
	scheduled := map[int64]sched{}
	out := map[string]float64{}
	var first, last time.Time
	for _, ev := range events {
		at := ev.GetEventTime().AsTime()
		if first.IsZero() {
			first = at
		}
		last = at
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			scheduled[ev.GetEventId()] = sched{ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName(), at}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			scheduled[ev.GetEventId()] = sched{"workflow tasks (local activities in them)", at}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			s := scheduled[ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()]
			out[s.name] += at.Sub(s.at).Seconds()
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
			s := scheduled[ev.GetActivityTaskFailedEventAttributes().GetScheduledEventId()]
			out[s.name] += at.Sub(s.at).Seconds()
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			s := scheduled[ev.GetWorkflowTaskCompletedEventAttributes().GetScheduledEventId()]
			out[s.name] += at.Sub(s.at).Seconds()
		}
	}
	out["run"] = last.Sub(first).Seconds()
	for k, v := range out {
		out[k] = round(v)
	}
	return out
}

// handover is how long a run took, from its start, to hand the change to Argo CD: until its
// first health wait started, which asks Argo CD for the refresh first thing. Everything before
// is idp's own work on the path (plan, reads, lock, door, the Git write); the time after is
// Argo CD's and the cluster's, but for the app's wait, which follows the app-of-apps' one.
// Read from the history's event times, to the millisecond.
func (r *rig) handover(id string) time.Duration {
	start, waited, _ := r.waits(id, r.events(id))
	return waited.Sub(start)
}

// waits reads a run's start, when its first health wait (WaitApp) started and when its last
// one completed, from its history (events, read by r.events).
func (r *rig) waits(id string, events []*historypb.HistoryEvent) (start, first, last time.Time) {
	r.t.Helper()
	waits := map[int64]bool{}
	for _, ev := range events {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			start = ev.GetEventTime().AsTime()
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			waits[ev.GetEventId()] = ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == "WaitApp"
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			if waits[ev.GetActivityTaskStartedEventAttributes().GetScheduledEventId()] && first.IsZero() {
				first = ev.GetEventTime().AsTime()
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			if waits[ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()] {
				last = ev.GetEventTime().AsTime()
			}
		}
	}
	if first.IsZero() {
		r.t.Fatalf("%s never started a health wait", id)
	}
	return start, first, last
}

// events reads a run's whole history (its latest run).
func (r *rig) events(id string) []*historypb.HistoryEvent {
	r.t.Helper()
	it := r.C.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var events []*historypb.HistoryEvent
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(r.t, err)
		events = append(events, ev)
	}
	return events
}
