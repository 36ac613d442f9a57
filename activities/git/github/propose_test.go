package github

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
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
		prepare func(t *testing.T, f *provFakeGitHub, p *provider) // holds no lock
	}{
		{
			name: "a branch someone else made with the same file and more",
			prepare: func(_ *testing.T, f *provFakeGitHub, _ *provider) {
				f.mu.Lock()
				defer f.mu.Unlock()
				f.branches[head] = f.branches["main"]
				f.commitFile(head, gittest.ProdApp, approvedProd, change.Message)
				f.commitFile(head, "extra.txt", "x\n", change.Message)
			},
		},
		{
			name: "one commit with the right file and another file",
			prepare: func(_ *testing.T, f *provFakeGitHub, _ *provider) {
				f.mu.Lock()
				defer f.mu.Unlock()
				files := map[string]string{"extra.txt": "x\n"}
				for k, v := range f.commits[f.branches["main"]].files {
					files[k] = v
				}
				files[gittest.ProdApp] = approvedProd
				f.branches[head] = f.newCommit(change.Message, []string{f.branches["main"]}, files)
			},
		},
		{
			name: "a foreign commit on top of an earlier proposal",
			prepare: func(t *testing.T, f *provFakeGitHub, p *provider) {
				_, err := p.Propose(context.Background(), "main", head, change, "t", "b")
				require.NoError(t, err)
				f.mu.Lock()
				defer f.mu.Unlock()
				f.commitFile(head, "extra.txt", "x\n", "foreign")
			},
		},
		{
			name: "an earlier proposal of another workflow",
			prepare: func(t *testing.T, _ *provFakeGitHub, p *provider) {
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
			f := provNewFakeGitHub(t)
			p := provGitHubProvider(t, f)
			seed := f.head("main").sha
			tc.prepare(t, f, p)
			foreign := f.head(head).sha

			prop, err := p.Propose(context.Background(), "main", head, change, "t", "b")
			require.NoError(t, err)
			hc := f.head(head)
			require.Equal(t, prop.Commit, hc.sha)
			require.NotEqual(t, foreign, hc.sha)
			require.Equal(t, []string{seed}, hc.parents, "one commit on base")
			require.Equal(t, change.Message, hc.message)
			require.NotContains(t, hc.files, "extra.txt")
			require.Equal(t, approvedProd, hc.files[gittest.ProdApp])
			f.mu.Lock()
			require.False(t, f.ancestors(hc.sha)[foreign])
			for _, u := range f.refUpdates {
				require.Equal(t, head, u.branch, "only the proposal branch is rewritten")
			}
			f.mu.Unlock()

			res, err := p.Merge(context.Background(), prop)
			require.NoError(t, err)
			require.NotContains(t, f.head("main").files, "extra.txt")
			require.Equal(t, res.Commit, f.head("main").sha)
		})
	}
}
