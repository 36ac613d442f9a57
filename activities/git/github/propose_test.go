package github

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/github/githubtest"
	"github.com/alexpermiakov/idp/activities/git/internal/gittest"
)

// Propose reuses a proposal branch only when it is exactly idp's one commit on base; anything
// else is rebuilt from base, and only that branch is ever force-updated.
func TestProposeRebuildsAForeignBranch(t *testing.T) {
	t.Parallel()
	change := git.Change{Path: gittest.ProdApp, Edit: gittest.Image("idp/localtime:v1.2.3"), Message: "promote time-service v1.2.3 to prod\n\nworkflow: promote-time-service-v1.2.3"}
	const head = "idp/time-service-prod-v1.2.3"
	approvedProd := "name: time-service\nimage: idp/localtime:v1.2.3\n"
	tests := []struct {
		name    string
		prepare func(t *testing.T, f *githubtest.Server, p *provider) // holds no lock
	}{
		{
			name: "a branch someone else made with the same file and more",
			prepare: func(_ *testing.T, f *githubtest.Server, _ *provider) {
				f.Mu.Lock()
				defer f.Mu.Unlock()
				f.Branches[head] = f.Branches["main"]
				f.CommitFile(head, gittest.ProdApp, approvedProd, change.Message)
				f.CommitFile(head, "extra.txt", "x\n", change.Message)
			},
		},
		{
			name: "one commit with the right file and another file",
			prepare: func(_ *testing.T, f *githubtest.Server, _ *provider) {
				f.Mu.Lock()
				defer f.Mu.Unlock()
				files := map[string]string{"extra.txt": "x\n"}
				for k, v := range f.Commits[f.Branches["main"]].Files {
					files[k] = v
				}
				files[gittest.ProdApp] = approvedProd
				f.Branches[head] = f.NewCommit(change.Message, []string{f.Branches["main"]}, files)
			},
		},
		{
			name: "a foreign commit on top of an earlier proposal",
			prepare: func(t *testing.T, f *githubtest.Server, p *provider) {
				_, err := p.Propose(context.Background(), "main", head, change, "t", "b")
				require.NoError(t, err)
				f.Mu.Lock()
				defer f.Mu.Unlock()
				f.CommitFile(head, "extra.txt", "x\n", "foreign")
			},
		},
		{
			name: "an earlier proposal of another workflow",
			prepare: func(t *testing.T, _ *githubtest.Server, p *provider) {
				other := change
				other.Message = "promote time-service v1.2.3 to prod\n\nworkflow: someone-else"
				_, err := p.Propose(context.Background(), "main", head, other, "t", "b")
				require.NoError(t, err)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := githubtest.New(t, gittest.Seed)
			p := provGitHubProvider(t, f)
			seed := f.Head("main").SHA
			tc.prepare(t, f, p)
			foreign := f.Head(head).SHA

			prop, err := p.Propose(context.Background(), "main", head, change, "t", "b")
			require.NoError(t, err)
			hc := f.Head(head)
			require.Equal(t, prop.Commit, hc.SHA)
			require.NotEqual(t, foreign, hc.SHA)
			require.Equal(t, []string{seed}, hc.Parents, "one commit on base")
			require.Equal(t, change.Message, hc.Message)
			require.NotContains(t, hc.Files, "extra.txt")
			require.Equal(t, approvedProd, hc.Files[gittest.ProdApp])
			f.Mu.Lock()
			require.False(t, f.Ancestors(hc.SHA)[foreign])
			for _, u := range f.RefUpdates {
				require.Equal(t, head, u.Branch, "only the proposal branch is rewritten")
			}
			f.Mu.Unlock()

			res, err := p.Merge(context.Background(), prop)
			require.NoError(t, err)
			require.NotContains(t, f.Head("main").Files, "extra.txt")
			require.Equal(t, res.Commit, f.Head("main").SHA)
		})
	}
}
