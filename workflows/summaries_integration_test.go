package workflows

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"

	"github.com/alexpermiakov/idp/workflows/api"
)

// workflowMetadataQuery is the SDK's built-in query the Web UI reads a run's current details
// with (the Go client does not export its name).
const workflowMetadataQuery = "__temporal_workflow_metadata"

// TestTheWebUISeesWhatARunWaitsFor runs Promote (stand-in activities) and the real Lock on a
// dev server and reads what the Web UI reads: while prod waits for an approval, the run's
// current details lead with it, who may still approve and the exact command, and the lock's
// page says who holds it and who waits, with its liveness timer named; afterwards the history
// names every wait (the approval's timer, the soak, the lock) as a person would.
func TestTheWebUISeesWhatARunWaitsFor(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Temporal dev server; not part of -short")
	}
	c := devServer(t)
	lockWorker(t, c, func(w worker.Worker) { registerPromoteStubs(w, nil) })
	ctx := context.Background()
	id := api.PromoteID("time-service", "v1.2.3")
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: api.TaskQueue}, api.PromoteWorkflowName,
		api.PromoteInput{Service: "time-service", Tag: "v1.2.3", To: "prod", Requester: "alice"})
	require.NoError(t, err)
	var st api.Status
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(ctx, id, "", api.StatusQuery)
		return err == nil && v.Get(&st) == nil && st.Stage == api.StageWaitingApproval
	}, time.Minute, 100*time.Millisecond)
	require.NotNil(t, st.PendingApproval)
	expires := st.PendingApproval.ExpiresAt.UTC()

	details := currentDetails(t, c, id)
	require.True(t, strings.HasPrefix(details, "**promote** · stage `waiting-approval`\n\n**Waiting for approval in prod**: 0 of 1, expires "+
		expires.Format("2006-01-02 15:04 UTC")), details)
	require.Contains(t, details, "image digest `"+digest+"`")
	require.Contains(t, details, "Who may approve: bob, carol (four-eyes: not alice)")
	require.Contains(t, details, "`starter approve promote-time-service-v1.2.3 --as USER`")
	require.Contains(t, details, "`starter reject promote-time-service-v1.2.3 --as USER --reason TEXT`")
	require.NotContains(t, details, "waiting for lock", "prod's lock is held by now")

	// Another owner queues for prod's lock: the lock's page shows both, and its liveness
	// timer says what it will check.
	lockID := api.LockID("time-service", "prod")
	next := startHolder(t, c, "promote-time-service-v1.2.4", lockHolderInput{LockID: lockID, Key: "time-service/prod"})
	waitState(t, c, next.GetID(), "requested", 30*time.Second)
	require.Eventually(t, func() bool {
		d := currentDetails(t, c, lockID)
		return strings.Contains(d, "held by `"+id+"`") && strings.Contains(d, "1. `promote-time-service-v1.2.4`")
	}, 30*time.Second, 100*time.Millisecond)
	require.Eventually(t, func() bool {
		return summaries(t, c, lockID, enumspb.EVENT_TYPE_TIMER_STARTED)[0] == "in 30s: is "+id+" still running?"
	}, 30*time.Second, 100*time.Millisecond)
	desc, err := c.DescribeWorkflow(ctx, lockID, "")
	require.NoError(t, err)
	summary, err := desc.GetStaticSummary()
	require.NoError(t, err)
	require.Equal(t, "lock time-service/prod: one promotion at a time", summary)

	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: api.ApproveUpdate,
		Args: []any{api.ApproveInput{Who: "bob", Subject: digest}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	require.NoError(t, h.Get(ctx, nil))
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, api.StageDone, st.Stage)
	waitState(t, c, next.GetID(), "holding", 30*time.Second)
	require.NoError(t, c.SignalWorkflow(ctx, next.GetID(), "", doneSignal, nil))
	require.NoError(t, next.Get(ctx, nil))

	timers := summaries(t, c, id, enumspb.EVENT_TYPE_TIMER_STARTED)
	require.Equal(t, "approval in prod: 0 of 1, expires "+expires.Format("Jan 2 15:04 UTC")+
		" · starter approve "+id+" --as USER", timers[0])
	for _, s := range timers[1:] {
		require.Equal(t, "sending the last notifications, at most "+drainFor.String(), s, "every timer is named")
	}
	acts := summaries(t, c, id, enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
	// Quick reads are local activities: their summaries are on their markers.
	locals := summaries(t, c, id, enumspb.EVENT_TYPE_MARKER_RECORDED)
	require.Contains(t, locals, "ask for lock time-service/staging")
	require.Contains(t, locals, "ask for lock time-service/prod")
	require.Contains(t, locals, "read time-service's image in prod")
	require.NotContains(t, acts, "ask for lock time-service/staging", "a quick read is not also an activity task")
	require.Contains(t, acts, "soak in staging, 1s: time-service-staging stays Healthy at "+short(digest))
	require.NotContains(t, currentDetails(t, c, id), "Waiting for approval")
}

// currentDetails is the run's current details, as the Web UI reads them.
func currentDetails(t *testing.T, c client.Client, id string) string {
	t.Helper()
	v, err := c.QueryWorkflow(context.Background(), id, "", workflowMetadataQuery)
	require.NoError(t, err)
	var md sdkpb.WorkflowMetadata
	require.NoError(t, v.Get(&md))
	return md.GetCurrentDetails()
}

// summaries are the summaries of the run's events of one type, in order; "" for one without.
func summaries(t *testing.T, c client.Client, id string, typ enumspb.EventType) []string {
	t.Helper()
	out := []string{}
	it := c.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		if e.GetEventType() == typ {
			out = append(out, payloadString(t, e.GetUserMetadata().GetSummary()))
		}
	}
	return out
}

// payloadString decodes a summary payload; "" when there is none.
func payloadString(t *testing.T, p *commonpb.Payload) string {
	t.Helper()
	if p == nil {
		return ""
	}
	var s string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, &s))
	return s
}
