package platform

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/fail"
)

// gitIn runs git in dir and returns its trimmed output.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...).CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// withPull gives the repository a branch "feature" and pull request 7's head under
// refs/pull/7/head, a commit no branch holds (as for a pull request from a fork).
func withPull(t *testing.T, dir string) (feature, pull string) {
	gitIn(t, dir, "checkout", "-q", "-b", "feature")
	gitIn(t, dir, "commit", "-q", "--allow-empty", "-m", "feature")
	feature = gitIn(t, dir, "rev-parse", "HEAD")
	gitIn(t, dir, "commit", "-q", "--allow-empty", "-m", "fork")
	pull = gitIn(t, dir, "rev-parse", "HEAD")
	gitIn(t, dir, "update-ref", "refs/pull/7/head", pull)
	gitIn(t, dir, "reset", "-q", "--hard", feature)
	gitIn(t, dir, "checkout", "-q", "main")
	return feature, pull
}

type fakePulls map[int]string

func (f fakePulls) PullHead(_ context.Context, n int) (string, error) {
	if ref, ok := f[n]; ok {
		return ref, nil
	}
	return "", fmt.Errorf("pull request %d: %w", n, ErrNoPull)
}

func TestDescribePreviewDerivesTheEnvAtThePullRequestsHead(t *testing.T) {
	a, mainCommit := activities(t, "main")
	feature, pull := withPull(t, a.Repo.URL)

	// A plain Git remote: the pull request's head is refs/pull/<N>/head.
	out, err := a.Describe(context.Background(), DescribeInput{Env: "dev", PR: 7})
	require.NoError(t, err)
	require.Equal(t, pull, out.Commit)
	e := out.Snapshot.Env
	require.Equal(t, "dev-pr-7", e.Name)
	require.Equal(t, "refs/pull/7/head", e.Preview.Branch)
	require.Equal(t, "k8s-pr-7", e.ClusterName)
	require.Equal(t, "previews/dev-pr-7/entry/terraform.tfstate", e.StateKey)
	require.Equal(t, "dev-pr-7-apps", e.ArgoCD.AppOfApps)
	require.False(t, out.PlanApproval.Required, "a preview of dev inherits dev's policy: no approval")
	require.Equal(t, e.StateBucket, out.StateBucket)
	// Later activities check the commit out although no branch holds it.
	dir, err := a.Repo.Checkout(context.Background(), out.Commit)
	require.NoError(t, err)
	require.Equal(t, pull, gitIn(t, dir, "rev-parse", "HEAD"))

	// A branch named in the request wins.
	out, err = a.Describe(context.Background(), DescribeInput{Env: "dev", PR: 7, Branch: "feature"})
	require.NoError(t, err)
	require.Equal(t, feature, out.Commit)
	require.Equal(t, "feature", out.Snapshot.Env.Preview.Branch)

	// The GitHub provider's answer is used when there is one.
	a.Pulls = fakePulls{8: "feature"}
	out, err = a.Describe(context.Background(), DescribeInput{Env: "staging", PR: 8})
	require.NoError(t, err)
	require.Equal(t, feature, out.Commit)
	require.Equal(t, "staging-pr-8", out.Snapshot.Env.Name)
	require.True(t, out.PlanApproval.Required, "a preview of staging inherits staging's plan approval")

	// The base env's run is unchanged by all this.
	out, err = a.Describe(context.Background(), DescribeInput{Env: "dev"})
	require.NoError(t, err)
	require.Equal(t, mainCommit, out.Commit)
	require.Equal(t, "dev", out.Snapshot.Env.Name)
	require.Nil(t, out.Snapshot.Env.Preview)
}

func TestDescribePreviewBadInputIsNotRetried(t *testing.T) {
	for name, tc := range map[string]struct {
		in    DescribeInput
		pulls PullHeads
		want  string
	}{
		"no head ref":    {DescribeInput{Env: "dev", PR: 9}, nil, "refs/pull/9/head"},
		"unknown branch": {DescribeInput{Env: "dev", PR: 7, Branch: "nope"}, nil, "--branch"},
		"unknown pull":   {DescribeInput{Env: "dev", PR: 9}, fakePulls{}, "pull request 9"},
		"unknown base":   {DescribeInput{Env: "qa", PR: 7}, nil, "unknown environment"},
		"negative pr":    {DescribeInput{Env: "dev", PR: -1}, nil, "above 0"},
	} {
		t.Run(name, func(t *testing.T) {
			a, _ := activities(t, "main")
			withPull(t, a.Repo.URL)
			a.Pulls = tc.pulls
			_, err := a.Describe(context.Background(), tc.in)
			require.True(t, fail.Is(err, fail.Config), "%v", err)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// A destroy of a preview whose pull request is gone still gets the preview's names, at the
// platform branch.
func TestDescribePreviewWithoutItsHeadFallsBackWhenAsked(t *testing.T) {
	a, mainCommit := activities(t, "main")
	withPull(t, a.Repo.URL)
	for name, tc := range map[string]struct {
		in    DescribeInput
		pulls PullHeads
	}{
		"no pull ref":       {DescribeInput{Env: "dev", PR: 9, HeadOptional: true}, nil},
		"branch deleted":    {DescribeInput{Env: "dev", PR: 9, Branch: "gone", HeadOptional: true}, nil},
		"unknown to GitHub": {DescribeInput{Env: "dev", PR: 9, HeadOptional: true}, fakePulls{}},
		"GitHub's is gone":  {DescribeInput{Env: "dev", PR: 9, HeadOptional: true}, fakePulls{9: "deleted-branch"}},
	} {
		t.Run(name, func(t *testing.T) {
			a.Pulls = tc.pulls
			out, err := a.Describe(context.Background(), tc.in)
			require.NoError(t, err)
			require.Equal(t, mainCommit, out.Commit)
			require.Equal(t, "dev-pr-9", out.Snapshot.Env.Name)
			require.Equal(t, "k8s-pr-9", out.Snapshot.Env.ClusterName)
			require.Equal(t, "previews/dev-pr-9/entry/terraform.tfstate", out.Snapshot.Env.StateKey)
			require.Equal(t, "main", out.Snapshot.Env.Preview.Branch)
		})
	}
}
