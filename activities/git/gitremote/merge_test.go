package gitremote

import (
	"context"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/internal/gittest"
)

func TestProposeAndMerge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prodChange := git.Change{Path: gittest.ProdApp, Edit: gittest.Image("idp/localtime:v1.2.3"), Message: "promote time-service v1.2.3 to prod\n\nworkflow: promote-time-service-v1.2.3\n"}
	const head = "idp/promote-time-service-v1.2.3-prod"

	t.Run("propose twice makes one branch, merge twice returns one commit", func(t *testing.T) {
		t.Parallel()
		bare := provBareRepo(t)
		p := provGitProvider(t, bare)
		base := provHead(t, bare, "main")

		first, err := p.Propose(ctx, "main", head, prodChange, "title", "body")
		require.NoError(t, err)
		second, err := p.Propose(ctx, "main", head, prodChange, "title", "body")
		require.NoError(t, err)
		require.Equal(t, first, second)
		require.Equal(t, git.Proposal{Base: "main", Head: head, Commit: first.Commit}, first)
		require.ElementsMatch(t, []string{"main", head}, provBranches(t, bare))
		hc := provHead(t, bare, head)
		require.Equal(t, first.Commit, hc.Hash.String())
		require.Equal(t, []plumbing.Hash{base.Hash}, hc.ParentHashes)
		require.Equal(t, base.Hash, provHead(t, bare, "main").Hash, "proposing leaves main alone")
		require.NoError(t, p.UpdateProposal(ctx, first, "approved by bob"))

		m1, err := p.Merge(ctx, first)
		require.NoError(t, err)
		m2, err := p.Merge(ctx, first)
		require.NoError(t, err)
		require.Equal(t, m1, m2)
		require.Equal(t, git.CommitResult{Commit: first.Commit, Changed: true}, m1, "main fast-forwards to the proposal")
		require.Equal(t, first.Commit, provHead(t, bare, "main").Hash.String())

		again, err := p.Propose(ctx, "main", head, prodChange, "title", "body")
		require.NoError(t, err)
		require.Equal(t, git.Proposal{Base: "main", Commit: first.Commit}, again, "once merged there is nothing left to propose")
		res, err := p.Merge(ctx, again)
		require.NoError(t, err)
		require.Equal(t, git.CommitResult{Commit: first.Commit}, res)
	})

	t.Run("merge after base moved on keeps both changes", func(t *testing.T) {
		t.Parallel()
		bare := provBareRepo(t)
		p := provGitProvider(t, bare)
		prop, err := p.Propose(ctx, "main", head, prodChange, "", "")
		require.NoError(t, err)
		dev, err := p.Commit(ctx, "main", git.Change{Path: gittest.DevApp, Edit: gittest.Image("idp/localtime:sha-7654321"), Message: "dev"})
		require.NoError(t, err)

		m1, err := p.Merge(ctx, prop)
		require.NoError(t, err)
		require.True(t, m1.Changed)
		tip := provHead(t, bare, "main")
		require.Equal(t, m1.Commit, tip.Hash.String())
		require.Equal(t, dev.Commit, tip.ParentHashes[0].String(), "re-created on the moved base")
		require.Equal(t, prodChange.Message, tip.Message)
		require.Equal(t, []string{gittest.ProdApp}, provChangedPaths(t, tip))
		require.Contains(t, provFile(t, tip, gittest.DevApp), "sha-7654321")
		require.Contains(t, provFile(t, tip, gittest.ProdApp), "v1.2.3")

		m2, err := p.Merge(ctx, prop)
		require.NoError(t, err)
		require.Equal(t, m1, m2)
		provFsck(t, bare)
	})

	t.Run("propose again after base moved rebuilds the branch on the new base", func(t *testing.T) {
		t.Parallel()
		bare := provBareRepo(t)
		p := provGitProvider(t, bare)
		first, err := p.Propose(ctx, "main", head, prodChange, "", "")
		require.NoError(t, err)
		dev, err := p.Commit(ctx, "main", git.Change{Path: gittest.DevApp, Edit: gittest.Image("idp/localtime:sha-1111111"), Message: "dev"})
		require.NoError(t, err)
		second, err := p.Propose(ctx, "main", head, prodChange, "", "")
		require.NoError(t, err)
		require.NotEqual(t, first.Commit, second.Commit)
		require.Equal(t, dev.Commit, provHead(t, bare, head).ParentHashes[0].String())
		require.ElementsMatch(t, []string{"main", head}, provBranches(t, bare))
	})

	t.Run("base changed the same file: not mergeable", func(t *testing.T) {
		t.Parallel()
		bare := provBareRepo(t)
		p := provGitProvider(t, bare)
		prop, err := p.Propose(ctx, "main", head, prodChange, "", "")
		require.NoError(t, err)
		_, err = p.Commit(ctx, "main", git.Change{Path: gittest.ProdApp, Edit: gittest.Image("idp/localtime:v9.9.9"), Message: "hotfix"})
		require.NoError(t, err)
		before := provHead(t, bare, "main")
		_, err = p.Merge(ctx, prop)
		require.ErrorIs(t, err, git.ErrNotMergeable)
		require.Equal(t, before.Hash, provHead(t, bare, "main").Hash)
	})

	t.Run("a proposal for a missing base is git.ErrNotFound", func(t *testing.T) {
		t.Parallel()
		bare := provBareRepo(t)
		_, err := provGitProvider(t, bare).Propose(ctx, "release", head, prodChange, "", "")
		require.ErrorIs(t, err, git.ErrNotFound)
	})
}
