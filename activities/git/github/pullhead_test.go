package github

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/github/githubtest"
	"github.com/alexpermiakov/idp/activities/git/internal/gittest"
)

func TestPullHead(t *testing.T) {
	ctx := context.Background()
	f := githubtest.New(t, gittest.Seed)
	p := provGitHubProvider(t, f)
	f.Branches["feature/x"], f.Branches["patch-1"] = f.Branches["main"], f.Branches["main"]
	f.Pulls = append(f.Pulls, &githubtest.Pull{Number: 1, Head: "feature/x", Base: "main", State: "open"},
		&githubtest.Pull{Number: 2, Head: "patch-1", Base: "main", State: "open", Fork: "someone/platform"})

	ref, err := p.PullHead(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, "feature/x", ref, "a branch of the repository itself")

	ref, err = p.PullHead(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, "refs/pull/2/head", ref, "a fork's branch is not in the repository; GitHub's pull ref is")

	_, err = p.PullHead(ctx, 3)
	require.ErrorIs(t, err, git.ErrNotFound)
}
