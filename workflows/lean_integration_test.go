package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestAPromotionsHistoryStaysLean runs a staging → prod promotion (stand-in activities, the
// real Lock) on a dev server, started with the search attributes starter promote sets, and
// reads its history: the quick reads are markers, not activity tasks; GetVersion is asked once
// (localReadsVersion), so TemporalChangeVersion is written once; one health wait per env, and
// no notification where nobody is to be told; the door is a read of each env's freezes and
// pins, not a signal to its Controls workflow; IdpStage and IdpEnvironment
// are written only when they change, never to what the start set; the whole history stays
// under 150 events.
func TestAPromotionsHistoryStaysLean(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Temporal dev server; not part of -short")
	}
	c := devServer(t)
	lockWorker(t, c, func(w worker.Worker) { registerPromoteStubs(w, nil) })
	ctx := context.Background()
	id := api.PromoteID("time-service", "v1.2.9")
	attrs := temporal.NewSearchAttributes(api.AttrKind.ValueSet(api.KindPromote), api.AttrService.ValueSet("time-service"),
		api.AttrVersion.ValueSet("v1.2.9"), api.AttrEnvironment.ValueSet("staging"), api.AttrStage.ValueSet(string(api.StagePreparing)))
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: api.TaskQueue, TypedSearchAttributes: attrs},
		api.PromoteWorkflowName, api.PromoteInput{Service: "time-service", Tag: "v1.2.9", To: "prod", Requester: "alice"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(ctx, id, "", api.StatusQuery)
		var st api.Status
		return err == nil && v.Get(&st) == nil && st.Stage == api.StageWaitingApproval
	}, time.Minute, 100*time.Millisecond)
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: api.ApproveUpdate,
		Args: []any{api.ApproveInput{Who: "bob", Subject: digest}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	require.NoError(t, h.Get(ctx, nil))
	var st api.Status
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, api.StageDone, st.Stage)

	var (
		events     int
		activities []string
		upserts    []map[string]string
	)
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		events++
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			activities = append(activities, e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName())
		case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			u := map[string]string{}
			for k, p := range e.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields() {
				var v any
				require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, &v))
				u[k] = toString(v)
			}
			upserts = append(upserts, u)
		}
	}
	for _, quick := range []string{"PlanPromotion", "ResolveImage", "CheckFreeze", "CurrentImage", "SignalWithStart",
		"RefreshApp", "RequesterKeys", "ApprovalKeys", "Passed"} {
		require.NotContains(t, activities, quick, "%s runs as a local activity", quick)
	}
	require.Equal(t, 2, count(activities, "WaitApp"), "health waits stay activities that heartbeat, one per env (app-of-apps, then app): %v", activities)
	require.Equal(t, 1, count(activities, "Send"), "staging's team is told of the promotion; prod has no notify target: %v", activities)

	stage, env := string(api.StagePreparing), "staging"
	var versions []string
	for _, u := range upserts {
		if v, ok := u["TemporalChangeVersion"]; ok {
			versions = append(versions, v)
		}
		if v, ok := u[api.AttrStage.GetName()]; ok {
			require.NotEqual(t, stage, v, "IdpStage written again unchanged: %v", upserts)
			stage = v
		}
		if v, ok := u[api.AttrEnvironment.GetName()]; ok {
			require.NotEqual(t, env, v, "IdpEnvironment written again unchanged: %v", upserts)
			env = v
		}
	}
	require.Equal(t, []string{`[local-reads-3]`}, versions, "one GetVersion in a run with local reads, lean waits and the door's query")
	for _, env := range []string{"staging", "prod"} {
		_, err := c.DescribeWorkflow(ctx, controls.WorkflowID(env), "")
		var nf *serviceerror.NotFound
		require.ErrorAs(t, err, &nf, "no freeze or pin in %s: the run read that and did not ask at the door (which starts the Controls workflow)", env)
	}
	require.Equal(t, string(api.StageDone), stage)
	require.Equal(t, "prod", env)
	require.Less(t, events, 150, "events of a staging → prod promotion with an approval")
	t.Logf("staging → prod with an approval: %d events, %d activity tasks, %d upserts", events, len(activities), len(upserts))
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// toString renders a decoded search attribute value: a keyword list as [a b].
func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		s := "["
		for i, e := range x {
			if i > 0 {
				s += " "
			}
			s += toString(e)
		}
		return s + "]"
	}
	return ""
}
