package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/imagewatch"
	"github.com/alexpermiakov/idp/internal/imagewatch/schedule"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestHandsOff: pushed images deploy themselves. An ECR push event (delivered by `sandbox
// image push` as EventBridge would) takes a sha tag to dev Healthy with no starter command;
// its redelivery, a forged event and the poll start nothing more; the poll takes a tag whose
// event was lost; nothing older than what dev runs goes there; `starter promote` follows the
// run an event started. Then two release trains go through dev (train_test.go).
func TestHandsOff(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end against the local stack; not part of -short")
	}
	cfg, s := startStack(t)
	c := dialTemporal(t, s)
	code, out := starter(t, "bootstrap", "--env", "dev", "--wait", "--as", "alice")
	require.Equal(t, 0, code, out)

	id := api.PromoteID("time-service", "sha-1a2b3c4")
	out = sandboxEvents(t, s, "image", "push", "time-service", "sha-1a2b3c4")
	require.Contains(t, out, "event: 202 started: started "+id+": time-service sha-1a2b3c4 enters dev")
	st := awaitStatus(t, id, 3*time.Minute, ended)
	require.Equal(t, api.StageDone, st.Stage, st.Error)
	require.Equal(t, "idp-watch (ecr push) (unsigned)", st.RequestedBy())
	require.Contains(t, pinned(t, cfg, "dev", "time-service"), ":sha-1a2b3c4@sha256:")
	_, sync, health := application(t, cfg, "dev", "time-service-dev")
	require.Equal(t, []string{"Synced", "Healthy"}, []string{sync, health})

	out = sandboxEvents(t, s, "image", "push", "time-service", "sha-1a2b3c4")
	require.Contains(t, out, "event: 409 already-started: "+id+" was already started")
	require.Equal(t, 1, runsOf(t, c, id), "a redelivered event starts nothing")

	sandboxCLI(t, s, "image", "push", "time-service", "sha-2222222") // pushed, its event lost
	forged := postEvent(t, cfg, "sha-2222222", "not-the-secret")
	require.Equal(t, http.StatusUnauthorized, forged)
	requireNoRun(t, c, api.PromoteID("time-service", "sha-2222222"))

	sandboxCLI(t, s, "image", "push", "time-service", "sha-3333333") // pushed after sha-2222222, its event lost too
	_, err := schedule.EnsureSchedules(context.Background(), c.ScheduleClient(), cfg)
	require.NoError(t, err)
	res := triggerLook(t, c, "time-service")
	polled := api.PromoteID("time-service", "sha-3333333")
	require.Equal(t, []string{polled}, res.Started, res.Notes)
	out = sandboxEvents(t, s, "image", "push", "time-service", "sha-3333333") // the event arrives late
	require.Contains(t, out, "event: 409 already-started")
	st = awaitStatus(t, polled, 3*time.Minute, ended)
	require.Equal(t, api.StageDone, st.Stage, st.Error)
	require.Equal(t, imagewatch.RequesterPoll, st.Requester)
	require.Equal(t, 1, runsOf(t, c, polled), "the same tag by poll and event: one run")

	res = triggerLook(t, c, "time-service")
	require.Empty(t, res.Started, res.Notes)
	require.Contains(t, res.Notes, "dev already runs the newest tag, sha-3333333")
	requireNoRun(t, c, api.PromoteID("time-service", "sha-2222222")) // older than what dev runs

	out = sandboxEvents(t, s, "image", "push", "time-service", "sha-4444444")
	require.Contains(t, out, "event: 202 started")
	code, out = starter(t, "promote", "--service", "time-service", "--tag", "sha-4444444", "--wait", "--as", "alice")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "promote-time-service-sha-4444444 was already started by idp-watch (ecr push) (the pushed image's promotion): following it")
	require.Equal(t, 1, runsOf(t, c, api.PromoteID("time-service", "sha-4444444")))
	require.Contains(t, pinned(t, cfg, "dev", "time-service"), ":sha-4444444@sha256:")

	trains(t, cfg, s)   // train_test.go: on this dev, so no stack of their own
	driftChecks(t, cfg) // drift_test.go: last, since it leaves dev drifted
}

// postEvent posts a push event for time-service:tag with key in the events header.
func postEvent(t *testing.T, cfg *config.Config, tag, key string) int {
	t.Helper()
	body := fmt.Sprintf(`{"version":"0","id":"1","detail-type":"ECR Image Action","source":"aws.ecr","account":%q,"region":"us-west-2",
"detail":{"action-type":"PUSH","result":"SUCCESS","repository-name":"idp/localtime","image-tag":%q,"image-digest":"sha256:%064d"}}`,
		cfg.Tooling.AWS.AccountID, tag, 0)
	req, err := http.NewRequest(http.MethodPost, "http://"+cfg.ImageWatch.Events.Addr+"/events/ecr", bytes.NewBufferString(body))
	require.NoError(t, err)
	req.Header.Set(cfg.ImageWatch.Events.Header, key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// triggerLook runs one look of the service's (paused) schedule and returns what it did.
func triggerLook(t *testing.T, c client.Client, service string) api.ImageWatchResult {
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
	}, 30*time.Second, 250*time.Millisecond, "the schedule started no look")
	var res api.ImageWatchResult
	require.NoError(t, c.GetWorkflow(ctx, id, "").Get(ctx, &res))
	return res
}

// runsOf counts the runs of a workflow ID, open or closed.
func runsOf(t *testing.T, c client.Client, id string) int {
	t.Helper()
	n := 0
	require.Eventually(t, func() bool {
		r, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default", Query: fmt.Sprintf("WorkflowId = '%s'", id)})
		n = 0
		if err == nil {
			n = len(r.Executions)
		}
		return n > 0
	}, 10*time.Second, 250*time.Millisecond, "no run of %s listed", id)
	return n
}

func requireNoRun(t *testing.T, c client.Client, id string) {
	t.Helper()
	_, err := c.DescribeWorkflow(context.Background(), id, "")
	var nf *serviceerror.NotFound
	require.ErrorAs(t, err, &nf, "%s must not have started", id)
}
