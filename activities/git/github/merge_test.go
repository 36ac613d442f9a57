package github

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/internal/gittest"
)

func TestPropose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	change := git.Change{Path: gittest.ProdApp, Edit: gittest.Image("idp/localtime:v1.2.3"), Message: "promote time-service v1.2.3 to prod\n\nworkflow: promote-time-service-v1.2.3\n"}
	const head = "idp/promote-time-service-v1.2.3-prod"

	t.Run("a second call finds the branch and pull request", func(t *testing.T) {
		t.Parallel()
		f := provNewFakeGitHub(t)
		p := provGitHubProvider(t, f)
		seed := f.head("main").sha

		first, err := p.Propose(ctx, "main", head, change, "Promote time-service v1.2.3 to prod", "Waiting for approval")
		require.NoError(t, err)
		require.Equal(t, git.Proposal{Base: "main", Head: head, Commit: f.head(head).sha, Number: 1,
			URL: "https://github.test/acme/platform/pull/1"}, first)
		require.Equal(t, seed, f.head("main").sha, "base untouched")
		require.Equal(t, []string{seed}, f.head(head).parents)
		require.Equal(t, change.Message, f.head(head).message)

		second, err := p.Propose(ctx, "main", head, change, "Promote time-service v1.2.3 to prod", "Waiting for approval")
		require.NoError(t, err)
		require.Equal(t, first, second)
		require.Len(t, f.pulls, 1)
		require.Equal(t, 1, f.count("POST pulls"))
		require.Equal(t, 1, f.count("POST refs"))
		require.Equal(t, 1, f.count("PUT contents"))

		require.NoError(t, p.UpdateProposal(ctx, first, "Approved by bob"))
		require.Equal(t, "Approved by bob", f.pulls[0].body)
	})

	t.Run("a retry after a failure between branch and pull request finishes the job", func(t *testing.T) {
		t.Parallel()
		f := provNewFakeGitHub(t)
		f.intercept = func(w http.ResponseWriter, _ *http.Request, route string) bool {
			if route == "POST pulls" && f.calls[route] == 1 {
				provJSON(w, http.StatusBadGateway, map[string]any{"message": "Server Error"})
				return true
			}
			return false
		}
		prop, err := provGitHubProvider(t, f).Propose(ctx, "main", head, change, "t", "b")
		require.NoError(t, err)
		require.Equal(t, 1, prop.Number)
		require.Len(t, f.pulls, 1)
		require.Equal(t, 1, f.count("POST refs"))
		require.Equal(t, 1, f.count("PUT contents"))
	})

	t.Run("nothing to propose when base already has the change", func(t *testing.T) {
		t.Parallel()
		f := provNewFakeGitHub(t)
		noop := git.Change{Path: gittest.ProdApp, Edit: gittest.Image("idp/localtime:v1.0.0"), Message: "noop"}
		p := provGitHubProvider(t, f)
		prop, err := p.Propose(ctx, "main", head, noop, "t", "b")
		require.NoError(t, err)
		require.Equal(t, git.Proposal{Base: "main", Commit: f.head("main").sha}, prop)
		require.Empty(t, f.pulls)
		require.NoError(t, p.UpdateProposal(ctx, prop, "x"))
		res, err := p.Merge(ctx, prop)
		require.NoError(t, err)
		require.Equal(t, git.CommitResult{Commit: prop.Commit}, res)
	})
}

func TestMerge(t *testing.T) {
	t.Parallel()
	change := git.Change{Path: gittest.ProdApp, Edit: gittest.Image("idp/localtime:v1.2.3"), Message: "promote time-service v1.2.3 to prod\n\nworkflow: promote-time-service-v1.2.3"}
	const head = "idp/promote-time-service-v1.2.3-prod"
	tests := []struct {
		name  string
		setup func(f *provFakeGitHub, prop git.Proposal) // runs between Propose and Merge, holding mu
		check func(t *testing.T, f *provFakeGitHub, p *provider, prop git.Proposal, res git.CommitResult, err error)
	}{
		{
			name: "squash-merges with the proposal's message; a second merge returns the same commit",
			check: func(t *testing.T, f *provFakeGitHub, p *provider, prop git.Proposal, res git.CommitResult, err error) {
				require.NoError(t, err)
				base := f.head("main")
				require.Equal(t, git.CommitResult{Commit: base.sha, Changed: true}, res)
				require.Equal(t, "promote time-service v1.2.3 to prod (#1)\n\nworkflow: promote-time-service-v1.2.3", base.message)
				require.Contains(t, base.files[gittest.ProdApp], "v1.2.3")
				again, err := p.Merge(context.Background(), prop)
				require.NoError(t, err)
				require.Equal(t, res, again)
				require.Equal(t, 1, f.count("PUT merge"))
			},
		},
		{
			name: "a pull request someone already merged returns its merge commit",
			setup: func(f *provFakeGitHub, _ git.Proposal) {
				f.pulls[0].merged, f.pulls[0].state, f.pulls[0].mergeSHA = true, "closed", "0123456789abcdef0123456789abcdef01234567"
			},
			check: func(t *testing.T, f *provFakeGitHub, _ *provider, _ git.Proposal, res git.CommitResult, err error) {
				require.NoError(t, err)
				require.Equal(t, git.CommitResult{Commit: "0123456789abcdef0123456789abcdef01234567", Changed: true}, res)
				require.Zero(t, f.count("PUT merge"))
			},
		},
		{
			name: "a base that moved on gets the approved commit merged on top",
			setup: func(f *provFakeGitHub, _ git.Proposal) {
				f.commitFile("main", gittest.DevApp, "name: time-service\nimage: idp/localtime:sha-7654321\n", "dev")
			},
			check: func(t *testing.T, f *provFakeGitHub, _ *provider, _ git.Proposal, res git.CommitResult, err error) {
				require.NoError(t, err)
				base := f.head("main")
				require.Equal(t, res.Commit, base.sha)
				require.Equal(t, "dev", f.commits[base.parents[0]].message, "the unrelated commit is kept")
				require.Contains(t, base.files[gittest.DevApp], "sha-7654321")
				require.Contains(t, base.files[gittest.ProdApp], "v1.2.3")
			},
		},
		{
			name: "a base that moved on where branches must be up to date is refused, not updated",
			setup: func(f *provFakeGitHub, _ git.Proposal) {
				f.strict = true
				f.commitFile("main", gittest.DevApp, "name: time-service\nimage: idp/localtime:sha-7654321\n", "dev")
			},
			check: func(t *testing.T, f *provFakeGitHub, _ *provider, prop git.Proposal, _ git.CommitResult, err error) {
				require.ErrorIs(t, err, git.ErrNotMergeable)
				require.ErrorContains(t, err, "behind main")
				require.Equal(t, prop.Commit, f.head(prop.Head).sha, "the branch keeps the approved commit")
				require.Equal(t, "dev", f.head("main").message)
			},
		},
		{
			name: "a foreign commit pushed on the branch after approval is refused",
			setup: func(f *provFakeGitHub, prop git.Proposal) {
				f.commitFile(prop.Head, ".github/workflows/x.yaml", "run: evil\n", "foreign")
			},
			check: func(t *testing.T, f *provFakeGitHub, _ *provider, prop git.Proposal, _ git.CommitResult, err error) {
				require.ErrorIs(t, err, git.ErrNotMergeable)
				require.ErrorContains(t, err, fmt.Sprintf("branch %s moved from %s to %s: refusing to merge what nobody approved", prop.Head, prop.Commit, f.head(prop.Head).sha))
				require.Zero(t, f.count("PUT merge"))
				require.NotContains(t, f.head("main").files, ".github/workflows/x.yaml")
			},
		},
		{
			name: "a branch that moves between our read and the merge (409) is not mergeable, not retried",
			setup: func(f *provFakeGitHub, prop git.Proposal) {
				f.intercept = func(_ http.ResponseWriter, _ *http.Request, route string) bool {
					if route == "PUT merge" {
						f.commitFile(prop.Head, ".github/workflows/x.yaml", "run: evil\n", "foreign")
					}
					return false
				}
			},
			check: func(t *testing.T, f *provFakeGitHub, _ *provider, prop git.Proposal, _ git.CommitResult, err error) {
				require.ErrorIs(t, err, git.ErrNotMergeable)
				require.ErrorContains(t, err, "Head branch was modified")
				require.Equal(t, 1, f.count("PUT merge"))
				require.NotContains(t, f.head("main").files, ".github/workflows/x.yaml")
			},
		},
		{
			name: "a base that changed the same file is not mergeable",
			setup: func(f *provFakeGitHub, _ git.Proposal) {
				f.strict = true
				f.commitFile("main", gittest.ProdApp, "name: time-service\nimage: idp/localtime:v9.9.9\n", "hotfix")
			},
			check: func(t *testing.T, f *provFakeGitHub, _ *provider, _ git.Proposal, _ git.CommitResult, err error) {
				require.ErrorIs(t, err, git.ErrNotMergeable)
				require.Contains(t, f.file("main", gittest.ProdApp), "v9.9.9")
			},
		},
		{
			name:  "a closed pull request is not mergeable",
			setup: func(f *provFakeGitHub, _ git.Proposal) { f.pulls[0].state = "closed" },
			check: func(t *testing.T, _ *provFakeGitHub, _ *provider, _ git.Proposal, _ git.CommitResult, err error) {
				require.ErrorIs(t, err, git.ErrNotMergeable)
			},
		},
		{
			name:  "a disabled merge method falls back to the next",
			setup: func(f *provFakeGitHub, _ git.Proposal) { f.disabled["squash"] = true },
			check: func(t *testing.T, f *provFakeGitHub, _ *provider, prop git.Proposal, res git.CommitResult, err error) {
				require.NoError(t, err)
				base := f.head("main")
				require.Equal(t, res.Commit, base.sha)
				require.Equal(t, []string{base.parents[0], prop.Commit}, base.parents, "a merge commit")
				require.Contains(t, base.message, "workflow: promote-time-service-v1.2.3")
			},
		},
		{
			name:  "an unknown pull request is git.ErrNotFound",
			setup: func(f *provFakeGitHub, _ git.Proposal) { f.pulls = nil },
			check: func(t *testing.T, _ *provFakeGitHub, _ *provider, _ git.Proposal, _ git.CommitResult, err error) {
				require.ErrorIs(t, err, git.ErrNotFound)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := provNewFakeGitHub(t)
			p := provGitHubProvider(t, f)
			prop, err := p.Propose(ctx, "main", head, change, "Promote", "body")
			require.NoError(t, err)
			if tc.setup != nil {
				f.mu.Lock()
				tc.setup(f, prop)
				f.mu.Unlock()
			}
			res, err := p.Merge(ctx, prop)
			tc.check(t, f, p, prop, res, err)
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, sha := range f.mergeSHAs {
				require.Equal(t, prop.Commit, sha, "GitHub is told to merge only the approved commit")
			}
			for _, u := range f.refUpdates {
				require.NotEqual(t, "main", u.branch, "the base moves only by merges")
			}
		})
	}
}
