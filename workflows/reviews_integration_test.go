package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestAReviewApprovesOnADevServer runs Promote on a dev server with the real WatchReviews and
// GitHub provider against an httptest GitHub: the first read of the reviews fails with a 502
// and is retried; alice, who asked for the promotion, approves on GitHub and is refused
// (four-eyes); bob approves on GitHub and prod is merged; the watch stops once the gate closed.
func TestAReviewApprovesOnADevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Temporal dev server; not part of -short")
	}
	c := devServer(t)
	gh := newFakeGitHub(t)
	// Cancellation reaches an activity with its next heartbeat; a short throttle makes that soon.
	w := worker.New(c, api.TaskQueue, worker.Options{MaxHeartbeatThrottleInterval: 200 * time.Millisecond})
	w.RegisterWorkflowWithOptions(Lock, workflowOptions(api.LockWorkflowName))
	w.RegisterActivity(&platform.Signaller{Client: c})
	registerPromoteStubs(w, gh.activities(t, 100*time.Millisecond))
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	st := promoteApprovedByReview(t, c, gh, "v1.2.3")
	require.Equal(t, api.StageDone, st.Stage)
	require.Len(t, st.Approvals, 1)
	d := st.Approvals[0]
	require.Equal(t, []any{"bob", true, "github:bob-gh", api.SourceGitHubReview, digest}, []any{d.Who, d.Verified, d.Key, d.Source, d.Subject})
	require.Len(t, st.IgnoredSignals, 1)
	require.Equal(t, "alice (github:alice-gh)", st.IgnoredSignals[0].Who)
	require.Contains(t, st.IgnoredSignals[0].Reason, "four-eyes")
	require.Eventually(t, func() bool { return gh.idleFor(time.Second) }, 30*time.Second, 100*time.Millisecond,
		"the watch goes on polling GitHub after the run ended")
}

// promoteApprovedByReview promotes time-service tag to prod, where alice's review is refused
// and bob's approves, and returns the run's final status.
func promoteApprovedByReview(t *testing.T, c client.Client, gh *fakeGitHub, tag string) api.Status {
	t.Helper()
	ctx := context.Background()
	id := api.PromoteID("time-service", tag)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: api.TaskQueue}, api.PromoteWorkflowName,
		api.PromoteInput{Service: "time-service", Tag: tag, To: "prod", Requester: "alice"})
	require.NoError(t, err)
	status := func() api.Status {
		var st api.Status
		if v, err := c.QueryWorkflow(ctx, id, "", api.StatusQuery); err == nil {
			_ = v.Get(&st)
		}
		return st
	}
	require.Eventually(t, func() bool {
		pa := status().PendingApproval
		return pa != nil && pa.Reviews != ""
	}, time.Minute, 100*time.Millisecond, "prod waits for approval, reviews of #7 included")
	gh.review("alice-gh", "APPROVED", proposedCommit)
	require.Eventually(t, func() bool { return len(status().IgnoredSignals) == 1 }, 30*time.Second, 100*time.Millisecond,
		"alice's own review is set aside")
	gh.review("bob-gh", "APPROVED", proposedCommit)
	var st api.Status
	require.NoError(t, run.Get(ctx, &st))
	return st
}
