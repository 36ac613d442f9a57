package git_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/gitremote"
	"github.com/alexpermiakov/idp/internal/fail"
)

// Plain Git has branches but no reviews: the watch says so at once, as a failure the workflow
// does not retry, and the gate goes on with decisions made through idp alone.
func TestWatchReviewsWithoutReviews(t *testing.T) {
	t.Parallel()
	plain, err := gitremote.New(t.TempDir(), git.Options{})
	require.NoError(t, err)
	_, isLister := plain.(git.ReviewLister)
	require.False(t, isLister)
	for _, a := range []*git.Activities{{Provider: plain}, {Provider: &fakeProvider{}}} {
		_, err = a.WatchReviews(context.Background(), git.WatchReviewsInput{Proposal: git.Proposal{Head: "idp/x", Commit: "c1"}})
		requireFailure(t, err, git.ErrNoReviews)
		require.ErrorContains(t, err, "no pull request reviews")
	}
	_, err = (&git.Activities{}).WatchReviews(context.Background(), git.WatchReviewsInput{})
	requireFailure(t, err, fail.Config)
}

func TestSortReviews(t *testing.T) {
	t.Parallel()
	reviews := []git.Review{
		{ID: 1, Login: "bob-gh", State: git.ReviewApproved, CommitID: "c1"},
		{ID: 2, Login: "carol-gh", State: git.ReviewApproved, CommitID: "c0"},
		{ID: 3, Login: "dave-gh", State: git.ReviewChangesRequested, CommitID: "c1"},
		{ID: 4, Login: "erin-gh", State: "COMMENTED", CommitID: "c1"},
		{ID: 5, Login: "frank-gh", State: "DISMISSED", CommitID: "c1"},
		{ID: 6, Login: "gina-gh", State: git.ReviewApproved, CommitID: "c1"},
	}
	out := git.SortReviews(reviews, "c1", []int64{6})
	require.Equal(t, []git.Review{reviews[0]}, out.Approvals, "gina's was seen before")
	require.Len(t, out.Ignored, 2)
	require.Equal(t, "approves commit c0, not c1 that was proposed: an approval binds to the exact commit; approve the pull request again", out.Ignored[0].Reason)
	require.Equal(t, int64(3), out.Ignored[1].Review.ID)
}
