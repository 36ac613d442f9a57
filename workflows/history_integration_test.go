package workflows

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/cli"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestStarterHistoryOnADevServer runs two promotions of time-service to prod (bob approves
// one, carol rejects the other) and one of another service, then reads `starter history`
// while the worker runs (closed runs answer their status query through it): one entry per env
// each run reached, newest run first, with who approved; --env narrows it; the table agrees.
func TestStarterHistoryOnADevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Temporal dev server; not part of -short")
	}
	c, addr := startDevServer(t, "--headless")
	w := worker.New(c, api.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(Lock, workflowOptions(api.LockWorkflowName))
	w.RegisterActivity(&platform.Signaller{Client: c})
	registerPromoteStubs(w, nil)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	ctx := context.Background()
	decide := func(service, tag, update string, arg any) {
		id := api.PromoteID(service, tag)
		// The search attributes starter promote sets.
		attrs := temporal.NewSearchAttributes(api.AttrKind.ValueSet(api.KindPromote), api.AttrService.ValueSet(service),
			api.AttrVersion.ValueSet(tag), api.AttrEnvironment.ValueSet("staging"))
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: api.TaskQueue, TypedSearchAttributes: attrs}, api.PromoteWorkflowName,
			api.PromoteInput{Service: service, Tag: tag, To: "prod", Requester: "alice"})
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			var st api.Status
			v, err := c.QueryWorkflow(ctx, id, "", api.StatusQuery)
			return err == nil && v.Get(&st) == nil && st.PendingApproval != nil
		}, time.Minute, 100*time.Millisecond)
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: update, Args: []any{arg},
			WaitForStage: client.WorkflowUpdateStageCompleted})
		require.NoError(t, err)
		require.NoError(t, h.Get(ctx, nil))
		_ = run.Get(ctx, nil)
	}
	decide("time-service", "v8.0.0", api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: digest})
	decide("time-service", "v8.0.1", api.RejectUpdate, api.RejectInput{Who: "carol", Subject: digest, Reason: "not today"})
	decide("version-service", "v1.0.0", api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: digest})

	t.Setenv("TEMPORAL_ADDRESS", addr)
	t.Setenv("TEMPORAL_NAMESPACE", "default")
	starter := func(args ...string) string {
		var out, errOut bytes.Buffer
		// Visibility is eventually consistent: wait until the three runs are listed as closed.
		require.Eventually(t, func() bool {
			out.Reset()
			errOut.Reset()
			return cli.Main(ctx, args, &out, &errOut) == 0 && !bytes.Contains(out.Bytes(), []byte("running"))
		}, 30*time.Second, 200*time.Millisecond, "starter %v: %s", args, errOut.String())
		return out.String()
	}
	var all []cli.HistoryEntry
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		last := starter("history", "--service", "time-service", "-o", "json")
		all = nil
		if json.Unmarshal([]byte(last), &all) == nil && len(all) == 4 {
			break
		}
		require.True(t, time.Now().Before(deadline), "history never listed the 4 envs of the 2 runs: %s", last)
	}
	got := []string{}
	for _, e := range all {
		require.Equal(t, "time-service", e.Service)
		require.Equal(t, digest, e.Digest)
		require.Equal(t, "alice", e.RequestedBy)
		require.NotNil(t, e.CloseTime)
		got = append(got, e.Tag+" "+e.Env+" "+e.State+" "+e.RunStatus+" "+joinNames(e.ApprovedBy))
	}
	require.Equal(t, []string{
		"v8.0.1 staging done failed ", "v8.0.1 prod failed failed ",
		"v8.0.0 staging done completed ", "v8.0.0 prod done completed bob",
	}, got)
	require.Equal(t, api.PromoteID("time-service", "v8.0.0"), all[3].WorkflowID)
	require.NotEmpty(t, all[3].RunID)
	require.Contains(t, all[3].Image, digest)

	var prod []cli.HistoryEntry
	require.NoError(t, json.Unmarshal([]byte(starter("history", "--service", "time-service", "--env", "prod", "-o", "json")), &prod))
	require.Len(t, prod, 2)
	require.Contains(t, prod[0].Error, "carol rejected")

	table := starter("history", "--service", "time-service", "--env", "prod")
	require.Contains(t, table, "APPROVED BY")
	require.Regexp(t, `prod\s+v8\.0\.0\s+done\s+bob\s+alice\s+promote-time-service-v8\.0\.0`, table)
}
