//go:build bench

package bench

import (
	"encoding/json"
	"maps"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/workflows/api"
)

// The parts of a run's handover: what the run was doing, moment by moment, from its start until
// its first health wait started.
const (
	partTaskQueued  = "workflow task waiting for the worker"
	partTaskRunning = "workflow task running (its own code)"
	partLocal       = "local activity in a workflow task: "
	partActivity    = "activity (queued and running): "
	partWaiting     = "waiting for a signal: "
	partOther       = "waiting (timer or other)"
)

// signalNames says what a run waits for, by signal.
var signalNames = map[string]string{
	api.LockGrantedSignal: "the lock's grant",
	controls.AnswerSignal: "the door's answer (Controls workflow)",
}

// tasksByWorker counts the workflow and activity tasks of the runs each worker took (by the
// identity it polls with), the most first: how Temporal spread a wave over the workers.
func tasksByWorker(histories [][]*historypb.HistoryEvent) []int {
	by := map[string]int{}
	for _, events := range histories {
		for _, ev := range events {
			if a := ev.GetWorkflowTaskStartedEventAttributes(); a != nil {
				by[a.GetIdentity()]++
			} else if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
				by[a.GetIdentity()]++
			}
		}
	}
	counts := slices.Collect(maps.Values(by))
	slices.Sort(counts)
	slices.Reverse(counts)
	return counts
}

// splitHandover splits a run's handover (its start → its first health wait starting) into
// what the run was doing, from its history: a workflow task waiting for a worker, one running
// (each local activity in it apart), an activity outstanding, or nothing outstanding while it
// waited for a signal (named by the signal that ended the wait). The parts add up to the
// handover.
func splitHandover(events []*historypb.HistoryEvent) map[string]float64 {
	out := map[string]float64{}
	var (
		task       string // partTaskQueued, partTaskRunning or ""
		activities = map[int64]string{}
		waitApps   = map[int64]bool{}
		prev       time.Time
		taskStart  time.Time
	)
	locals := localActivities(events)
	for _, ev := range events {
		at := ev.GetEventTime().AsTime()
		if !prev.IsZero() && at.After(prev) {
			out[doing(task, activities, ev)] += at.Sub(prev).Seconds()
		}
		prev = at
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			task = partTaskQueued
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			task, taskStart = partTaskRunning, at
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			task = ""
			// The task's local activities ran one after another from its start; each marker
			// says when its activity ended.
			cursor := taskStart
			for _, la := range locals[ev.GetEventId()] {
				end := la.ended
				if end.After(at) {
					end = at
				}
				if d := end.Sub(cursor); d > 0 {
					out[partLocal+la.name] += d.Seconds()
					out[partTaskRunning] -= d.Seconds()
					cursor = cursor.Add(d)
				}
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED, enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
			task = ""
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			name := ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
			activities[ev.GetEventId()] = name
			waitApps[ev.GetEventId()] = name == "WaitApp"
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			if waitApps[ev.GetActivityTaskStartedEventAttributes().GetScheduledEventId()] {
				return roundAll(out)
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			delete(activities, ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId())
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
			delete(activities, ev.GetActivityTaskFailedEventAttributes().GetScheduledEventId())
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
			delete(activities, ev.GetActivityTaskTimedOutEventAttributes().GetScheduledEventId())
		}
	}
	return roundAll(out)
}

// localActivity is one local activity's marker: its type and when it ended (the SDK's
// ReplayTime: the task's start plus the time the worker spent until the result).
type localActivity struct {
	name  string
	ended time.Time
}

// localActivities are the markers of the history's local activities, by the workflow task
// whose completion recorded them, in order. A marker whose data does not read as plain JSON
// (an encrypting codec) is left out, its time counted as the task's own.
func localActivities(events []*historypb.HistoryEvent) map[int64][]localActivity {
	out := map[int64][]localActivity{}
	for _, ev := range events {
		m := ev.GetMarkerRecordedEventAttributes()
		if m == nil || m.GetMarkerName() != "LocalActivity" {
			continue
		}
		p := m.GetDetails()["data"].GetPayloads()
		var data struct {
			ActivityType string
			ReplayTime   time.Time
		}
		if len(p) == 0 || json.Unmarshal(p[0].GetData(), &data) != nil || data.ActivityType == "" {
			continue
		}
		id := m.GetWorkflowTaskCompletedEventId()
		out[id] = append(out[id], localActivity{data.ActivityType, data.ReplayTime})
	}
	return out
}

// doing names what the run was doing until ev: a workflow task before all, then an activity,
// else the wait ev ended.
func doing(task string, activities map[int64]string, ev *historypb.HistoryEvent) string {
	if task != "" {
		return task
	}
	if len(activities) > 0 {
		return partActivity + activities[slices.Min(slices.Collect(maps.Keys(activities)))] // one at a time before the wait
	}
	if s := ev.GetWorkflowExecutionSignaledEventAttributes(); s != nil {
		if name, ok := signalNames[s.GetSignalName()]; ok {
			return partWaiting + name
		}
		return partWaiting + s.GetSignalName()
	}
	return partOther
}

func roundAll(m map[string]float64) map[string]float64 {
	for k, v := range m {
		m[k] = round(v)
	}
	return m
}
