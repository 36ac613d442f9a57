package github

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/github/githubtest"
	"github.com/alexpermiakov/idp/activities/git/internal/gittest"
)

func TestPropose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	change := git.Change{Path: gittest.ProdApp, Edit: gittest.Image("idp/localtime:v1.2.3"), Message: "promote time-service v1.2.3 to prod\n\nworkflow: promote-time-service-v1.2.3\n"}
	const head = "idp/promote-time-service-v1.2.3-prod"

	t.Run("a second call finds the branch and pull request", func(t *testing.T) {
		t.Parallel()
		f := githubtest.New(t, gittest.Seed)
		p := provGitHubProvider(t, f)
		seed := f.Head("main").SHA

		first, err := p.Propose(ctx, "main", head, change, "Promote time-service v1.2.3 to prod", "Waiting for approval")
		require.NoError(t, err)
		require.Equal(t, git.Proposal{Base: "main", Head: head, Commit: f.Head(head).SHA, Number: 1,
			URL: "https://github.test/acme/platform/pull/1"}, first)
		require.Equal(t, seed, f.Head("main").SHA, "base untouched")
		require.Equal(t, []string{seed}, f.Head(head).Parents)
		require.Equal(t, change.Message, f.Head(head).Message)

		second, err := p.Propose(ctx, "main", head, change, "Promote time-service v1.2.3 to prod", "Waiting for approval")
		require.NoError(t, err)
		require.Equal(t, first, second)
		require.Len(t, f.Pulls, 1)
		require.Equal(t, 1, f.Count("POST pulls"))
		require.Equal(t, 1, f.Count("POST refs"))
		require.Equal(t, 1, f.Count("PUT contents"))

		require.NoError(t, p.UpdateProposal(ctx, first, "Approved by bob"))
		require.Equal(t, "Approved by bob", f.Pulls[0].Body)
	})

	t.Run("a retry after a failure between branch and pull request finishes the job", func(t *testing.T) {
		t.Parallel()
		f := githubtest.New(t, gittest.Seed)
		f.Intercept = func(w http.ResponseWriter, _ *http.Request, route string) bool {
			if route == "POST pulls" && f.Calls[route] == 1 {
				githubtest.WriteJSON(w, http.StatusBadGateway, map[string]any{"message": "Server Error"})
				return true
			}
			return false
		}
		prop, err := provGitHubProvider(t, f).Propose(ctx, "main", head, change, "t", "b")
		require.NoError(t, err)
		require.Equal(t, 1, prop.Number)
		require.Len(t, f.Pulls, 1)
		require.Equal(t, 1, f.Count("POST refs"))
		require.Equal(t, 1, f.Count("PUT contents"))
	})

	t.Run("nothing to propose when base already has the change", func(t *testing.T) {
		t.Parallel()
		f := githubtest.New(t, gittest.Seed)
		noop := git.Change{Path: gittest.ProdApp, Edit: gittest.Image("idp/localtime:v1.0.0"), Message: "noop"}
		p := provGitHubProvider(t, f)
		prop, err := p.Propose(ctx, "main", head, noop, "t", "b")
		require.NoError(t, err)
		require.Equal(t, git.Proposal{Base: "main", Commit: f.Head("main").SHA}, prop)
		require.Empty(t, f.Pulls)
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
		setup func(f *githubtest.Server, prop git.Proposal) // runs between Propose and Merge, holding mu
		check func(t *testing.T, f *githubtest.Server, p *provider, prop git.Proposal, res git.CommitResult, err error)
	}{
		{
			name: "squash-merges with the proposal's message; a second merge returns the same commit",
			check: func(t *testing.T, f *githubtest.Server, p *provider, prop git.Proposal, res git.CommitResult, err error) {
				require.NoError(t, err)
				base := f.Head("main")
				require.Equal(t, git.CommitResult{Commit: base.SHA, Changed: true}, res)
				require.Equal(t, "promote time-service v1.2.3 to prod (#1)\n\nworkflow: promote-time-service-v1.2.3", base.Message)
				require.Contains(t, base.Files[gittest.ProdApp], "v1.2.3")
				again, err := p.Merge(context.Background(), prop)
				require.NoError(t, err)
				require.Equal(t, res, again)
				require.Equal(t, 1, f.Count("PUT merge"))
			},
		},
		{
			name: "a pull request someone already merged returns its merge commit",
			setup: func(f *githubtest.Server, _ git.Proposal) {
				f.Pulls[0].Merged, f.Pulls[0].State, f.Pulls[0].MergeSHA = true, "closed", "0123456789abcdef0123456789abcdef01234567"
			},
			check: func(t *testing.T, f *githubtest.Server, _ *provider, _ git.Proposal, res git.CommitResult, err error) {
				require.NoError(t, err)
				require.Equal(t, git.CommitResult{Commit: "0123456789abcdef0123456789abcdef01234567", Changed: true}, res)
				require.Zero(t, f.Count("PUT merge"))
			},
		},
		{
			name: "a base that moved on gets the approved commit merged on top",
			setup: func(f *githubtest.Server, _ git.Proposal) {
				f.CommitFile("main", gittest.DevApp, "name: time-service\nimage: idp/localtime:sha-7654321\n", "dev")
			},
			check: func(t *testing.T, f *githubtest.Server, _ *provider, _ git.Proposal, res git.CommitResult, err error) {
				require.NoError(t, err)
				base := f.Head("main")
				require.Equal(t, res.Commit, base.SHA)
				require.Equal(t, "dev", f.Commits[base.Parents[0]].Message, "the unrelated commit is kept")
				require.Contains(t, base.Files[gittest.DevApp], "sha-7654321")
				require.Contains(t, base.Files[gittest.ProdApp], "v1.2.3")
			},
		},
		{
			name: "a base that moved on where branches must be up to date is refused, not updated",
			setup: func(f *githubtest.Server, _ git.Proposal) {
				f.Strict = true
				f.CommitFile("main", gittest.DevApp, "name: time-service\nimage: idp/localtime:sha-7654321\n", "dev")
			},
			check: func(t *testing.T, f *githubtest.Server, _ *provider, prop git.Proposal, _ git.CommitResult, err error) {
				require.ErrorIs(t, err, git.ErrNotMergeable)
				require.ErrorContains(t, err, "behind main")
				require.Equal(t, prop.Commit, f.Head(prop.Head).SHA, "the branch keeps the approved commit")
				require.Equal(t, "dev", f.Head("main").Message)
			},
		},
		{
			name: "a foreign commit pushed on the branch after approval is refused",
			setup: func(f *githubtest.Server, prop git.Proposal) {
				f.CommitFile(prop.Head, ".github/workflows/x.yaml", "run: evil\n", "foreign")
			},
			check: func(t *testing.T, f *githubtest.Server, _ *provider, prop git.Proposal, _ git.CommitResult, err error) {
				require.ErrorIs(t, err, git.ErrNotMergeable)
				require.ErrorContains(t, err, fmt.Sprintf("branch %s moved from %s to %s: refusing to merge what nobody approved", prop.Head, prop.Commit, f.Head(prop.Head).SHA))
				require.Zero(t, f.Count("PUT merge"))
				require.NotContains(t, f.Head("main").Files, ".github/workflows/x.yaml")
			},
		},
		{
			name: "a branch that moves between our read and the merge (409) is not mergeable, not retried",
			setup: func(f *githubtest.Server, prop git.Proposal) {
				f.Intercept = func(_ http.ResponseWriter, _ *http.Request, route string) bool {
					if route == "PUT merge" {
						f.CommitFile(prop.Head, ".github/workflows/x.yaml", "run: evil\n", "foreign")
					}
					return false
				}
			},
			check: func(t *testing.T, f *githubtest.Server, _ *provider, prop git.Proposal, _ git.CommitResult, err error) {
				require.ErrorIs(t, err, git.ErrNotMergeable)
				require.ErrorContains(t, err, "Head branch was modified")
				require.Equal(t, 1, f.Count("PUT merge"))
				require.NotContains(t, f.Head("main").Files, ".github/workflows/x.yaml")
			},
		},
		{
			name: "a base that changed the same file is not mergeable",
			setup: func(f *githubtest.Server, _ git.Proposal) {
				f.Strict = true
				f.CommitFile("main", gittest.ProdApp, "name: time-service\nimage: idp/localtime:v9.9.9\n", "hotfix")
			},
			check: func(t *testing.T, f *githubtest.Server, _ *provider, _ git.Proposal, _ git.CommitResult, err error) {
				require.ErrorIs(t, err, git.ErrNotMergeable)
				require.Contains(t, f.File("main", gittest.ProdApp), "v9.9.9")
			},
		},
		{
			name:  "a closed pull request is not mergeable",
			setup: func(f *githubtest.Server, _ git.Proposal) { f.Pulls[0].State = "closed" },
			check: func(t *testing.T, _ *githubtest.Server, _ *provider, _ git.Proposal, _ git.CommitResult, err error) {
				require.ErrorIs(t, err, git.ErrNotMergeable)
			},
		},
		{
			name:  "a disabled merge method falls back to the next",
			setup: func(f *githubtest.Server, _ git.Proposal) { f.Disabled["squash"] = true },
			check: func(t *testing.T, f *githubtest.Server, _ *provider, prop git.Proposal, res git.CommitResult, err error) {
				require.NoError(t, err)
				base := f.Head("main")
				require.Equal(t, res.Commit, base.SHA)
				require.Equal(t, []string{base.Parents[0], prop.Commit}, base.Parents, "a merge commit")
				require.Contains(t, base.Message, "workflow: promote-time-service-v1.2.3")
			},
		},
		{
			name:  "an unknown pull request is git.ErrNotFound",
			setup: func(f *githubtest.Server, _ git.Proposal) { f.Pulls = nil },
			check: func(t *testing.T, _ *githubtest.Server, _ *provider, _ git.Proposal, _ git.CommitResult, err error) {
				require.ErrorIs(t, err, git.ErrNotFound)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := githubtest.New(t, gittest.Seed)
			p := provGitHubProvider(t, f)
			prop, err := p.Propose(ctx, "main", head, change, "Promote", "body")
			require.NoError(t, err)
			if tc.setup != nil {
				f.Mu.Lock()
				tc.setup(f, prop)
				f.Mu.Unlock()
			}
			res, err := p.Merge(ctx, prop)
			tc.check(t, f, p, prop, res, err)
			f.Mu.Lock()
			defer f.Mu.Unlock()
			for _, sha := range f.MergeSHAs {
				require.Equal(t, prop.Commit, sha, "GitHub is told to merge only the approved commit")
			}
			for _, u := range f.RefUpdates {
				require.NotEqual(t, "main", u.Branch, "the base moves only by merges")
			}
		})
	}
}
