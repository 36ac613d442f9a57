//go:build faults

package faults

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/github"
	"github.com/alexpermiakov/idp/activities/git/github/githubtest"
	"github.com/alexpermiakov/idp/internal/policy"
)

// TestGitHubFaultsInProdMerge is fault 6: GitHub answers 502 and 503 to some calls of a prod
// promotion's proposal and merge (one of them after it did what was asked: it opened the pull
// request, it merged), and rate-limits others with its secondary rate limit (403, Retry-After,
// the message). What must hold: each call is retried, no earlier than Retry-After asks;
// exactly one pull request and exactly one merge; main ends with the approved image. A rate
// limit longer than the provider waits in place fails the attempt as retryable with the
// activity's next attempt put off until then, without calling GitHub again meanwhile.
func TestGitHubFaultsInProdMerge(t *testing.T) {
	path := policy.ManifestPath("prod", "time-service")
	seed, err := os.ReadFile("../" + path)
	require.NoError(t, err)
	image := "864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:v1.2.3@sha256:" + strings.Repeat("ab", 32)
	write := git.WriteImageInput{Env: "prod", Service: "time-service", Image: image, Propose: true,
		Head: policy.ProposalBranch("time-service", "prod", "v1.2.3"), Title: "Promote time-service v1.2.3 to prod",
		Message: "promote time-service v1.2.3 to prod\n\nworkflow: promote-time-service-v1.2.3"}

	t.Run("5xx and a short secondary rate limit are retried", func(t *testing.T) {
		f := githubtest.New(t, map[string]string{path: string(seed)})
		a := ghActivities(t, f)
		f.Inject("PUT contents", githubtest.Fault{Status: http.StatusServiceUnavailable, Message: "Service Unavailable"})
		f.Inject("POST pulls", githubtest.Fault{Status: http.StatusBadGateway, Message: "Bad Gateway", After: true})
		f.Inject("GET pull", githubtest.SecondaryRateLimit("2"))
		f.Inject("PUT merge", githubtest.Fault{Status: http.StatusBadGateway, Message: "Bad Gateway", After: true})
		start := time.Now()
		written, err := a.WriteImage(context.Background(), write)
		require.NoError(t, err)
		require.NotNil(t, written.Proposal)
		require.Equal(t, 1, written.Proposal.Number, "the pull request GitHub opened behind its 502 is the one")
		merged, err := a.MergeProposal(context.Background(), git.MergeInput{Proposal: *written.Proposal, Body: "approved by bob"})
		require.NoError(t, err)
		Recovered(t, "GitHub 502/503 and a 2 s secondary rate limit in a prod proposal and merge", time.Since(start))

		require.Len(t, f.Pulls, 1, "one pull request")
		require.Equal(t, 1, f.Merges, "one merge")
		require.Equal(t, f.Branches["main"], merged.Commit, "the merge GitHub made behind its 502")
		require.Contains(t, f.Commits[f.Branches["main"]].Files[path], image)
		pulls := f.CallTimes("GET pull")
		require.GreaterOrEqual(t, len(pulls), 2)
		require.GreaterOrEqual(t, pulls[1].Sub(pulls[0]), 2*time.Second, "Retry-After: 2 is honoured")
		require.Len(t, f.CallTimes("PUT merge"), 1, "the merge that landed behind a 502 is not asked for again")
	})

	t.Run("a long secondary rate limit puts off the next attempt", func(t *testing.T) {
		f := githubtest.New(t, map[string]string{path: string(seed)})
		a := ghActivities(t, f)
		written, err := a.WriteImage(context.Background(), write)
		require.NoError(t, err)
		f.Inject("GET pull", githubtest.SecondaryRateLimit("120"))
		calls := len(f.CallTimes("GET pull"))
		_, err = a.MergeProposal(context.Background(), git.MergeInput{Proposal: *written.Proposal})
		var app *temporal.ApplicationError
		require.True(t, errors.As(err, &app), "%v", err)
		require.Equal(t, git.ErrRateLimited, app.Type())
		require.False(t, app.NonRetryable(), "a rate limit is not a refusal of credentials")
		require.Equal(t, 120*time.Second, app.NextRetryDelay())
		require.Contains(t, app.Error(), "secondary rate limit")
		require.Len(t, f.CallTimes("GET pull"), calls+1, "GitHub is not called again during the limit")
		require.Zero(t, f.Merges)
	})
}

func ghActivities(t *testing.T, f *githubtest.Server) *git.Activities {
	t.Helper()
	p, err := github.New(f.Owner+"/"+f.Repo, git.Options{Token: f.Token, APIURL: f.URL + "/"})
	require.NoError(t, err)
	return &git.Activities{Provider: p, Branch: "main"}
}
