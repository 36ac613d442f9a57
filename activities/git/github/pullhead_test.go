package github

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
)

func TestPullHead(t *testing.T) {
	ctx := context.Background()
	f := provNewFakeGitHub(t)
	p := provGitHubProvider(t, f)
	f.branches["feature/x"], f.branches["patch-1"] = f.branches["main"], f.branches["main"]
	f.pulls = append(f.pulls, &provFakePull{number: 1, head: "feature/x", base: "main", state: "open"},
		&provFakePull{number: 2, head: "patch-1", base: "main", state: "open", fork: "someone/platform"})

	ref, err := p.PullHead(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, "feature/x", ref, "a branch of the repository itself")

	ref, err = p.PullHead(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, "refs/pull/2/head", ref, "a fork's branch is not in the repository; GitHub's pull ref is")

	_, err = p.PullHead(ctx, 3)
	require.ErrorIs(t, err, git.ErrNotFound)
}
