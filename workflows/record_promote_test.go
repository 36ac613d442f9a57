//go:build record

package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/internal/signature"
	"github.com/alexpermiakov/idp/workflows/api"
)

// recordPromoteToProd: alice promotes time-service v1.2.3 to prod; staging goes by itself and
// soaks (the Soak activity watches it), prod waits for an approval; alice's own is refused
// (four-eyes), bob's is accepted. Prod, the last env, is not soaked.
func recordPromoteToProd(t *testing.T, c client.Client) {
	id := promoteApprovedByBob(t, c, "v1.2.3")
	// promote-staging-prod-approved.json was recorded before the soak watched the Application
	// (a timer then); it stays, and must still replay.
	writeHistory(t, c, id, "promote-staging-prod-approved-soak-watched.json")
}

// recordPromoteCurrentOptions: as recordPromoteToProd, under the activity options of today:
// Git writes that heartbeat (git.WriteHeartbeatTimeout) and health waits that heartbeat every
// 30 s. The older promotion files were recorded before either.
func recordPromoteCurrentOptions(t *testing.T, c client.Client) {
	id := promoteApprovedByBob(t, c, "v1.2.7")
	writeHistory(t, c, id, "promote-staging-prod-current-options.json")
}

// recordPromoteLocalReads: as recordPromoteToProd, in a run started since localReadsVersion:
// the quick reads are local activities (markers), the health waits refresh by themselves, and
// unchanged search attributes are not written again.
func recordPromoteLocalReads(t *testing.T, c client.Client) {
	id := promoteApprovedByBob(t, c, "v1.2.8")
	writeHistory(t, c, id, "promote-staging-prod-local-reads.json")
}

// recordPromoteLeanWaits: as recordPromoteLocalReads, in a run started since leanWaits: one
// health wait per env (app-of-apps, then app), and a notification sent only where a target
// wants it (staging's team; prod has none).
func recordPromoteLeanWaits(t *testing.T, c client.Client) {
	id := promoteApprovedByBob(t, c, "v1.2.10")
	writeHistory(t, c, id, "promote-staging-prod-lean-waits.json")
}

// recordPromoteDoorQuery is the same promotion since doorQuery: each env's door is a read of its
// freezes and pins.
func recordPromoteDoorQuery(t *testing.T, c client.Client) {
	id := promoteApprovedByBob(t, c, "v1.2.11")
	writeHistory(t, c, id, "promote-staging-prod-door-query.json")
}

// promoteApprovedByBob promotes time-service tag to prod: alice's own approval is refused
// (four-eyes), bob's accepted; it returns the workflow ID once the promotion is done.
func promoteApprovedByBob(t *testing.T, c client.Client, tag string) string {
	ctx := context.Background()
	id := api.PromoteID("time-service", tag)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: api.TaskQueue}, api.PromoteWorkflowName,
		api.PromoteInput{Service: "time-service", Tag: tag, To: "prod", Requester: "alice"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(ctx, id, "", api.StatusQuery)
		var st api.Status
		return err == nil && v.Get(&st) == nil && st.Stage == api.StageWaitingApproval
	}, time.Minute, 100*time.Millisecond)
	approve := func(who string) error {
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: api.ApproveUpdate,
			Args: []any{api.ApproveInput{Who: who, Subject: digest, Comment: "recorded"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err != nil {
			return err
		}
		return h.Get(ctx, nil)
	}
	require.ErrorContains(t, approve("alice"), "four-eyes")
	require.NoError(t, approve("bob"))
	var st api.Status
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, api.StageDone, st.Stage)
	return id
}

// recordPromoteApprovedByReview: as TestAReviewApprovesOnADevServer, prod approved by bob's
// review on GitHub after alice's own review was refused.
func recordPromoteApprovedByReview(t *testing.T, c client.Client, gh *fakeGitHub) {
	st := promoteApprovedByReview(t, c, gh, "v1.3.0")
	require.Equal(t, api.StageDone, st.Stage)
	writeHistory(t, c, api.PromoteID("time-service", "v1.3.0"), "promote-staging-prod-review.json")
}

// recordSignedPromote: as recordPromoteToProd, but alice signed the request (the workflow
// reads her keys with RequesterKeys) and bob approves; the tag is re-resolved before the merge.
func recordSignedPromote(t *testing.T, c client.Client) {
	ctx := context.Background()
	id := api.PromoteID("time-service", "v1.2.6")
	in := api.PromoteInput{Service: "time-service", Tag: "v1.2.6", To: "prod", Requester: "alice",
		SignedAt: time.Now().UTC().Truncate(time.Second)}
	sig, err := signature.Sign(in.Statement(id), recordedAlice())
	require.NoError(t, err)
	in.Signature = sig
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: api.TaskQueue}, api.PromoteWorkflowName, in)
	require.NoError(t, err)
	var st api.Status
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(ctx, id, "", api.StatusQuery)
		return err == nil && v.Get(&st) == nil && st.Stage == api.StageWaitingApproval
	}, time.Minute, 100*time.Millisecond)
	require.True(t, st.RequesterVerified, "alice's signed request is verified")
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: api.ApproveUpdate,
		Args: []any{api.ApproveInput{Who: "bob", Subject: digest, Comment: "recorded"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	require.NoError(t, h.Get(ctx, nil))
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, api.StageDone, st.Stage)
	writeHistory(t, c, id, "promote-signed-request-recheck.json")
}
