//go:build bench

package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/alexpermiakov/idp/workflows/api"
)

// TestBenchSplitHandover: a run's handover is split by what it was doing, and the parts add up
// to it (named TestBench… so the smoke run's -run TestBench runs it).
func TestBenchSplitHandover(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var events []*historypb.HistoryEvent
	ev := func(secs float64, typ enumspb.EventType, set func(*historypb.HistoryEvent)) {
		e := &historypb.HistoryEvent{EventId: int64(len(events) + 1), EventType: typ,
			EventTime: timestamppb.New(t0.Add(time.Duration(secs * float64(time.Second))))}
		if set != nil {
			set(e)
		}
		events = append(events, e)
	}
	task := func(at, started, done float64) {
		ev(at, enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, nil)
		ev(started, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, nil)
		ev(done, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, nil)
	}
	activity := func(name string, at, started float64) int64 {
		ev(at, enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, func(e *historypb.HistoryEvent) {
			e.Attributes = &historypb.HistoryEvent_ActivityTaskScheduledEventAttributes{ActivityTaskScheduledEventAttributes: &historypb.ActivityTaskScheduledEventAttributes{
				ActivityType: &commonpb.ActivityType{Name: name}}}
		})
		id := int64(len(events))
		ev(started, enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED, func(e *historypb.HistoryEvent) {
			e.Attributes = &historypb.HistoryEvent_ActivityTaskStartedEventAttributes{ActivityTaskStartedEventAttributes: &historypb.ActivityTaskStartedEventAttributes{ScheduledEventId: id}}
		})
		return id
	}
	ev(0, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, nil)
	task(0, 1, 1.5)
	completed := int64(len(events))
	ev(1.5, enumspb.EVENT_TYPE_MARKER_RECORDED, func(e *historypb.HistoryEvent) {
		data := fmt.Sprintf(`{"ActivityID":"1","ActivityType":"PlanPromotion","ReplayTime":%q}`, t0.Add(1250*time.Millisecond).Format(time.RFC3339Nano))
		e.Attributes = &historypb.HistoryEvent_MarkerRecordedEventAttributes{MarkerRecordedEventAttributes: &historypb.MarkerRecordedEventAttributes{
			MarkerName: "LocalActivity", WorkflowTaskCompletedEventId: completed,
			Details: map[string]*commonpb.Payloads{"data": {Payloads: []*commonpb.Payload{{Data: []byte(data)}}}}}}
	})
	ev(3, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, func(e *historypb.HistoryEvent) {
		e.Attributes = &historypb.HistoryEvent_WorkflowExecutionSignaledEventAttributes{WorkflowExecutionSignaledEventAttributes: &historypb.WorkflowExecutionSignaledEventAttributes{
			SignalName: api.LockGrantedSignal}}
	})
	task(3, 3.25, 3.5)
	write := activity("WriteImage", 3.5, 3.75)
	ev(4, enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, func(e *historypb.HistoryEvent) {
		e.Attributes = &historypb.HistoryEvent_ActivityTaskCompletedEventAttributes{ActivityTaskCompletedEventAttributes: &historypb.ActivityTaskCompletedEventAttributes{ScheduledEventId: write}}
	})
	task(4, 4.5, 4.75)
	activity("WaitApp", 4.75, 5)
	task(6, 6.5, 7) // after the handover: not counted

	got := splitHandover(events)
	require.Equal(t, map[string]float64{
		partTaskQueued:                   1.75,
		partTaskRunning:                  0.75,
		partLocal + "PlanPromotion":      0.25,
		partWaiting + "the lock's grant": 1.5,
		partActivity + "WriteImage":      0.5,
		partActivity + "WaitApp":         0.25,
	}, got)
	sum := 0.0
	for _, v := range got {
		sum += v
	}
	require.InDelta(t, 5, sum, 1e-9, "the parts add up to the handover")
}
