package workflows

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/workflows/api"
)

// doorAsker stands for a run at the door: it waits for the Controls workflow's answer.
func doorAsker(ctx workflow.Context) (controls.DoorAnswer, error) {
	var a controls.DoorAnswer
	ok, err := workflow.AwaitWithTimeout(ctx, time.Minute, func() bool {
		return workflow.GetSignalChannel(ctx, controls.AnswerSignal).ReceiveAsync(&a)
	})
	if err == nil && !ok {
		err = fmt.Errorf("no answer at the door")
	}
	return a, err
}

// TestControlsAnswersEveryRunAtTheDoor: 100 runs ask at one env's door at once, from 10
// senders, while the Controls workflow continues as new every few answers, on a real server:
// every one is answered. The exact interleaving that lost requests before settleAgain (one
// arriving while the run answered others on its way to continuing as new) is pinned in
// TestRequestsArrivingWhileItContinuesAreAnswered; this load did not hit it on this machine,
// and guards the whole path (the server refusing a continue-as-new with a new signal, handlers,
// the answers) under load.
func TestControlsAnswersEveryRunAtTheDoor(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Temporal dev server; not part of -short")
	}
	c := devServer(t)
	// Two workflow tasks at a time, as on a busy worker: the Controls workflow's tasks queue
	// behind the runs', so requests keep arriving while it answers others.
	w := worker.New(c, api.TaskQueue, worker.Options{MaxConcurrentWorkflowTaskExecutionSize: 2, MaxConcurrentWorkflowTaskPollers: 2})
	w.RegisterWorkflowWithOptions(Controls, workflowOptions(api.ControlsWorkflowName))
	w.RegisterWorkflowWithOptions(doorAsker, workflowOptions("doorAsker"))
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	ctx := context.Background()
	first, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: controls.WorkflowID("load"), TaskQueue: api.TaskQueue},
		api.ControlsWorkflowName, controls.State{Env: "load", ContinueAfter: 30})
	require.NoError(t, err)

	const n, senders = 100, 10
	runs := make([]client.WorkflowRun, n)
	for i := range runs {
		runs[i], err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("asker-%03d", i), TaskQueue: api.TaskQueue}, "doorAsker")
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := s; i < n; i += senders {
				req := controls.DoorRequest{Owner: runs[i].GetID(), Service: fmt.Sprintf("svc-%03d", i)}
				if err := c.SignalWorkflow(ctx, controls.WorkflowID("load"), "", controls.DoorSignal, req); err != nil {
					t.Errorf("asking at the door for %s: %v", req.Owner, err)
				}
				// Spread over a few seconds, as runs reach the door: requests keep arriving
				// while the workflow answers others and continues as new.
				time.Sleep(time.Duration(20+7*i%50) * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	unanswered := 0
	for _, r := range runs {
		var a controls.DoorAnswer
		if err := r.Get(ctx, &a); err != nil {
			unanswered++
			t.Logf("%s: %v", r.GetID(), err)
			continue
		}
		require.True(t, a.Open, r.GetID())
	}
	require.Zero(t, unanswered, "every run at the door is answered")
	desc, err := c.DescribeWorkflow(ctx, controls.WorkflowID("load"), "")
	require.NoError(t, err)
	require.NotEqual(t, first.GetRunID(), desc.WorkflowExecution.RunID, "it continued as new while answering")
}

// TestControlsAnswersATurnTogether: runs already waiting at the door when the Controls
// workflow takes its turn are all answered in that turn's one workflow task, not one task per
// answer (the hundredth of a hundred runs entering an env at once waited for ninety-nine round
// trips).
func TestControlsAnswersATurnTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Temporal dev server; not part of -short")
	}
	c := devServer(t)
	ctx := context.Background()
	const n = 20
	env := "together"
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: controls.WorkflowID(env), TaskQueue: api.TaskQueue},
		api.ControlsWorkflowName, controls.State{Env: env})
	require.NoError(t, err)
	runs := make([]client.WorkflowRun, n)
	for i := range runs {
		runs[i], err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("together-%02d", i), TaskQueue: api.TaskQueue}, "doorAsker")
		require.NoError(t, err)
		req := controls.DoorRequest{Owner: runs[i].GetID(), Service: fmt.Sprintf("svc-%02d", i)}
		require.NoError(t, c.SignalWorkflow(ctx, controls.WorkflowID(env), "", controls.DoorSignal, req))
	}
	// The worker starts after every request is in, so the first workflow task sees them all.
	w := worker.New(c, api.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(Controls, workflowOptions(api.ControlsWorkflowName))
	w.RegisterWorkflowWithOptions(doorAsker, workflowOptions("doorAsker"))
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	for _, r := range runs {
		var a controls.DoorAnswer
		require.NoError(t, r.Get(ctx, &a), r.GetID())
		require.True(t, a.Open, r.GetID())
	}
	tasks := map[int64]int{} // the workflow task that sent each answer
	it := c.GetWorkflowHistory(ctx, controls.WorkflowID(env), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		if a := e.GetSignalExternalWorkflowExecutionInitiatedEventAttributes(); a != nil {
			tasks[a.GetWorkflowTaskCompletedEventId()]++
		}
	}
	require.Len(t, tasks, 1, "all %d answers go out in one workflow task: %v", n, tasks)
}
