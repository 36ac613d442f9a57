//go:build record

package workflows

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/notify"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestRecordToldHistory records a promotion that tells people: staging on GitHub (deployment
// statuses), prod's approval requested, reminded, approved by bob, promoted; it writes
// testdata/promote-told-reminded-approved.json. A tool like TestRecordHistories:
//
//	go test -tags record -count=1 -run TestRecordToldHistory ./workflows
func TestRecordToldHistory(t *testing.T) {
	c := devServer(t)
	rcv := newReceiver(t, http.StatusOK)
	stg, prd := staging(), prod(1)
	stg.Soak = time.Second
	stg.Snapshot.Repository.Provider = "github"
	prd.Approval.RemindAfter = config.Duration(2 * time.Second)
	notifyWorkerWith(t, c, map[string]string{"IDP_TEST_JSON": rcv.srv.URL + jsonPath}, map[string]any{
		"RecordDeployment": func(context.Context, git.DeploymentInput) (git.DeploymentOutput, error) {
			return git.DeploymentOutput{ID: 1}, nil
		},
	}, stg, prd)
	ctx := context.Background()
	id := api.PromoteID("time-service", "v1.2.3")
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: api.TaskQueue}, api.PromoteWorkflowName,
		api.PromoteInput{Service: "time-service", Tag: "v1.2.3", To: "prod", Requester: "alice"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		for _, ev := range rcv.events(t, jsonPath) {
			if ev.Type == notify.ApprovalReminder {
				return true
			}
		}
		return false
	}, time.Minute, 100*time.Millisecond)
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: api.ApproveUpdate,
		Args: []any{api.ApproveInput{Who: "bob", Subject: digest}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	require.NoError(t, h.Get(ctx, nil))
	require.NoError(t, run.Get(ctx, nil))
	writeHistory(t, c, id, "promote-told-reminded-approved.json")
}
