//go:build record

package workflows

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestRecordHistories records, on a real dev server, the histories TestReplayRecordedHistories
// replays, and writes them under testdata/. It is a tool, not a test: it is compiled only with
// the build tag "record" (so `make test` neither runs nor skips it), e.g.
//
//	go test -tags record -count=1 -run TestRecordHistories ./workflows
//
// Rerun it (and commit the files) when a workflow changes on purpose, with a GetVersion guard:
// keep the old files, which must still replay, and add the new ones under new names. Record
// one new file at a time (-run 'TestRecordHistories/promote-local-reads'): the old ones were
// recorded by the code of their day.
func TestRecordHistories(t *testing.T) {
	c := devServer(t)
	gh := newFakeGitHub(t)
	lockWorker(t, c, func(w worker.Worker) { registerPromoteStubs(w, gh.activities(t, 200*time.Millisecond)) })
	t.Run("lock-contention", func(t *testing.T) { recordLockContention(t, c) })
	t.Run("lock-holder-terminated", func(t *testing.T) { recordLockHolderTerminated(t, c) })
	t.Run("promote-prod-approved", func(t *testing.T) { recordPromoteToProd(t, c) })
	t.Run("promote-prod-review", func(t *testing.T) { recordPromoteApprovedByReview(t, c, gh) })
	t.Run("promote-signed-request", func(t *testing.T) { recordSignedPromote(t, c) })
	t.Run("promote-current-options", func(t *testing.T) { recordPromoteCurrentOptions(t, c) })
	t.Run("promote-local-reads", func(t *testing.T) { recordPromoteLocalReads(t, c) })
	t.Run("promote-lean-waits", func(t *testing.T) { recordPromoteLeanWaits(t, c) })
	t.Run("promote-door-query", func(t *testing.T) { recordPromoteDoorQuery(t, c) })
	t.Run("controls-door", func(t *testing.T) { recordControlsDoor(t, c, "controls-door-together.json") })
}

// recordControlsDoor: five runs wait at dev's door when its Controls workflow takes its first
// turn; each is answered. The Controls workflow goes on running; the history ends there.
func recordControlsDoor(t *testing.T, c client.Client, name string) {
	ctx := context.Background()
	const queue = "record-door"
	id := controls.WorkflowID("dev")
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue}, api.ControlsWorkflowName, controls.State{Env: "dev"})
	require.NoError(t, err)
	runs := make([]client.WorkflowRun, 5)
	for i := range runs {
		runs[i], err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("promote-svc-%d-sha-abc1234", i), TaskQueue: queue}, "doorAsker")
		require.NoError(t, err)
		require.NoError(t, c.SignalWorkflow(ctx, id, "", controls.DoorSignal, controls.DoorRequest{Owner: runs[i].GetID(), Service: fmt.Sprintf("svc-%d", i)}))
	}
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(Controls, workflowOptions(api.ControlsWorkflowName))
	w.RegisterWorkflowWithOptions(doorAsker, workflowOptions("doorAsker"))
	require.NoError(t, w.Start())
	defer w.Stop()
	for _, r := range runs {
		require.NoError(t, r.Get(ctx, nil))
	}
	require.NoError(t, c.TerminateWorkflow(ctx, id, "", "recorded"))
	writeHistory(t, c, id, name)
}

// recordLockContention: a holds the lock; b, then c asking to supersede, queue; a steps
// aside; b holds past a few liveness checks, then releases; c gets it and releases.
func recordLockContention(t *testing.T, c client.Client) {
	lockID := api.LockID("time-service", "prod")
	in := lockHolderInput{LockID: lockID, Key: "time-service/prod", CheckInterval: time.Second}
	startHolder(t, c, "promote-time-service-v1.2.3", in)
	waitState(t, c, "promote-time-service-v1.2.3", "holding", 30*time.Second)
	startHolder(t, c, "promote-time-service-v1.2.4", in)
	waitState(t, c, "promote-time-service-v1.2.4", "requested", 30*time.Second)
	sup := in
	sup.Supersede = true
	startHolder(t, c, "promote-time-service-v1.2.5", sup)
	waitState(t, c, "promote-time-service-v1.2.3", "done", 30*time.Second)
	waitState(t, c, "promote-time-service-v1.2.4", "holding", 30*time.Second)
	time.Sleep(3 * in.CheckInterval) // let the lock check a live holder
	require.NoError(t, c.SignalWorkflow(context.Background(), "promote-time-service-v1.2.4", "", doneSignal, nil))
	waitState(t, c, "promote-time-service-v1.2.5", "holding", 30*time.Second)
	require.NoError(t, c.SignalWorkflow(context.Background(), "promote-time-service-v1.2.5", "", doneSignal, nil))
	require.NoError(t, c.GetWorkflow(context.Background(), lockID, "").Get(context.Background(), nil), "an idle lock ends")
	writeHistory(t, c, lockID, "lock-contention.json")
}

// recordLockHolderTerminated: a holds the lock, b waits, a is terminated; the lock's next
// liveness check lets go of a and b gets the lock.
func recordLockHolderTerminated(t *testing.T, c client.Client) {
	lockID := api.LockID("version-service", "prod")
	in := lockHolderInput{LockID: lockID, Key: "version-service/prod", CheckInterval: time.Second}
	startHolder(t, c, "promote-version-service-v2.0.0", in)
	waitState(t, c, "promote-version-service-v2.0.0", "holding", 30*time.Second)
	startHolder(t, c, "promote-version-service-v2.0.1", in)
	waitState(t, c, "promote-version-service-v2.0.1", "requested", 30*time.Second)
	require.NoError(t, c.TerminateWorkflow(context.Background(), "promote-version-service-v2.0.0", "", "stuck"))
	waitState(t, c, "promote-version-service-v2.0.1", "holding", 30*time.Second)
	require.NoError(t, c.SignalWorkflow(context.Background(), "promote-version-service-v2.0.1", "", doneSignal, nil))
	require.NoError(t, c.GetWorkflow(context.Background(), lockID, "").Get(context.Background(), nil), "an idle lock ends")
	writeHistory(t, c, lockID, "lock-holder-terminated.json")
}

// writeHistory exports the workflow's history in the JSON `temporal workflow show -o json`
// writes, which ReplayWorkflowHistoryFromJSONFile reads.
func writeHistory(t *testing.T, c client.Client, id, name string) {
	t.Helper()
	ctx := context.Background()
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, e)
	}
	out, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(&h)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join("testdata", name), append(out, '\n'), 0o644))
	t.Logf("wrote testdata/%s: %d events", name, len(h.Events))
}
