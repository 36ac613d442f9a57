package github

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/github/githubtest"
	"github.com/alexpermiakov/idp/activities/git/internal/gittest"
	"github.com/alexpermiakov/idp/internal/fail"
)

// provProposed opens a pull request on the fake and returns it as Propose does.
func provProposed(t *testing.T, f *githubtest.Server, p *provider) git.Proposal {
	t.Helper()
	change := git.Change{Path: gittest.ProdApp, Edit: gittest.Image("idp/localtime:v1.2.3"), Message: "promote\n\nworkflow: promote-time-service-v1.2.3\n"}
	prop, err := p.Propose(context.Background(), "main", "idp/time-service-prod-v1.2.3", change, "Promote", "Waiting")
	require.NoError(t, err)
	require.Equal(t, 1, prop.Number)
	return prop
}

func TestReviews(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := githubtest.New(t, gittest.Seed)
	f.ReviewsPerPage = 2
	p := provGitHubProvider(t, f)
	prop := provProposed(t, f, p)
	older := f.Head("main").SHA
	bob := f.Review(1, "bob-gh", "APPROVED", prop.Commit)
	carol := f.Review(1, "carol-gh", "APPROVED", older)
	dave := f.Review(1, "dave-gh", "CHANGES_REQUESTED", prop.Commit)
	f.Review(1, "erin-gh", "COMMENTED", prop.Commit)
	f.Review(1, "frank-gh", "PENDING", prop.Commit)
	f.Intercept = func(w http.ResponseWriter, _ *http.Request, route string) bool {
		if route == "GET reviews" && f.Calls[route] == 1 {
			githubtest.WriteJSON(w, http.StatusBadGateway, map[string]any{"message": "Server Error"})
			return true
		}
		return false
	}

	reviews, err := p.Reviews(ctx, prop)
	require.NoError(t, err, "a 502 is retried")
	require.Equal(t, 4, f.Count("GET reviews"), "one 502, then three pages of two")
	require.Len(t, reviews, 4, "a pending (draft) review is nobody's decision yet")
	require.Equal(t, git.Review{ID: bob, Login: "bob-gh", State: "APPROVED", CommitID: prop.Commit,
		SubmittedAt: reviews[0].SubmittedAt, URL: reviews[0].URL}, reviews[0])
	require.False(t, reviews[0].SubmittedAt.IsZero())
	require.Contains(t, reviews[0].URL, "pullrequestreview-")

	out := git.SortReviews(reviews, prop.Commit, nil)
	require.Equal(t, []git.Review{reviews[0]}, out.Approvals, "only bob approved the proposed commit")
	require.Len(t, out.Ignored, 2)
	require.Equal(t, carol, out.Ignored[0].Review.ID)
	require.Contains(t, out.Ignored[0].Reason, "approves commit "+older[:12]+", not "+prop.Commit[:12])
	require.Equal(t, dave, out.Ignored[1].Review.ID)
	require.Contains(t, out.Ignored[1].Reason, "do not reject")
	require.Empty(t, git.SortReviews(reviews, prop.Commit, []int64{bob, carol, dave}).Approvals)

	nothing, err := p.Reviews(ctx, git.Proposal{Head: "idp/x", Commit: prop.Commit})
	require.NoError(t, err)
	require.Empty(t, nothing, "plain proposals have no pull request to read")
}

func TestWatchReviews(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := githubtest.New(t, gittest.Seed)
	p := provGitHubProvider(t, f)
	prop := provProposed(t, f, p)
	a := &git.Activities{Provider: p, Branch: "main", ReviewPoll: 20 * time.Millisecond}

	t.Run("nothing new within MaxWait", func(t *testing.T) {
		start := time.Now()
		out, err := a.WatchReviews(ctx, git.WatchReviewsInput{Proposal: prop, MaxWait: 100 * time.Millisecond})
		require.NoError(t, err)
		require.Empty(t, out.Approvals)
		require.Empty(t, out.Ignored)
		require.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
		require.Greater(t, f.Count("GET reviews"), 2, "it polled more than once")
	})

	t.Run("returns as soon as a new approval of the proposed commit comes", func(t *testing.T) {
		seen := f.Review(1, "bob-gh", "APPROVED", prop.Commit)
		go func() {
			time.Sleep(60 * time.Millisecond)
			f.Review(1, "carol-gh", "COMMENTED", prop.Commit)
			f.Review(1, "carol-gh", "APPROVED", prop.Commit)
		}()
		out, err := a.WatchReviews(ctx, git.WatchReviewsInput{Proposal: prop, Seen: []int64{seen}, MaxWait: time.Minute})
		require.NoError(t, err)
		require.Len(t, out.Approvals, 1)
		require.Equal(t, "carol-gh", out.Approvals[0].Login)
	})

	t.Run("stops when cancelled", func(t *testing.T) {
		all, err := p.Reviews(ctx, prop)
		require.NoError(t, err)
		var seen []int64
		for _, r := range all {
			seen = append(seen, r.ID)
		}
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err = a.WatchReviews(cctx, git.WatchReviewsInput{Proposal: prop, Seen: seen, MaxWait: time.Minute})
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("credentials refused is not retried", func(t *testing.T) {
		bad := provGitHubProviderWithToken(t, f, "wrong")
		_, err := (&git.Activities{Provider: bad}).WatchReviews(ctx, git.WatchReviewsInput{Proposal: prop})
		require.True(t, fail.Is(err, fail.AccessDenied), "%v", err)
	})

	t.Run("a provider without reviews says so", func(t *testing.T) {
		_, err := (&git.Activities{Provider: git.Unavailable(context.Canceled)}).WatchReviews(ctx, git.WatchReviewsInput{Proposal: prop})
		require.True(t, fail.Is(err, git.ErrNoReviews), "%v", err)
	})
}

// provGitHubProviderWithToken is a provider pointed at the fake with another token.
func provGitHubProviderWithToken(t *testing.T, f *githubtest.Server, token string) *provider {
	t.Helper()
	hc := &http.Client{Transport: &tokenTransport{token: func(context.Context) (string, error) { return token, nil }}}
	p, err := newProvider(f.Owner+"/"+f.Repo, f.URL, hc)
	require.NoError(t, err)
	p.retry = gittest.FastRetry
	return p
}
