package gitremote

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/internal/gittest"
	"github.com/alexpermiakov/idp/activities/git/internal/retry"
)

const casHead = "idp/time-service-prod-v1.2.3"

var casChange = git.Change{Path: gittest.ProdApp, Edit: gittest.Image("idp/localtime:v1.2.3"),
	Message: "promote time-service v1.2.3 to prod\n\nworkflow: promote-time-service-v1.2.3\n"}

// casGit runs the git CLI like provGit but returns its error, for goroutines.
func casGit(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=other", "GIT_AUTHOR_EMAIL=other@test", "GIT_COMMITTER_NAME=other", "GIT_COMMITTER_EMAIL=other@test")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// casClone clones the bare repository with the CLI, checked out at branch.
func casClone(t *testing.T, bare, branch string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	provGit(t, filepath.Dir(dir), "clone", "--quiet", "--branch", branch, bare, dir)
	return dir
}

// casForeignCommit commits content as path in the clone dir and pushes HEAD to branch
// (forcing when force is set), returning the commit's hash.
func casForeignCommit(t *testing.T, dir, branch, path, content string, force bool) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(path)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, path), []byte(content), 0o644))
	provGit(t, dir, "add", "-A")
	provGit(t, dir, "commit", "--quiet", "-m", "foreign "+path)
	args := []string{"push", "--quiet", "origin", "HEAD:refs/heads/" + branch}
	if force {
		args = append(args, "--force")
	}
	provGit(t, dir, args...)
	return provGit(t, dir, "rev-parse", "HEAD")
}

// casContains reports whether commit is in branch's history in the bare repository.
func casContains(t *testing.T, bare, branch, commit string) bool {
	t.Helper()
	_, err := casGit(bare, "merge-base", "--is-ancestor", commit, branch)
	return err == nil
}

// A proposal branch that moved after approval is never merged: base gets none of it.
func TestMergeRefusesWhatNobodyApproved(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper func(t *testing.T, bare string) (foreign string)
	}{
		{
			name: "a foreign commit on top of the approved one",
			tamper: func(t *testing.T, bare string) string {
				return casForeignCommit(t, casClone(t, bare, casHead), casHead, ".github/workflows/x.yaml", "run: evil\n", false)
			},
		},
		{
			name: "the branch replaced by a foreign commit with the same file",
			tamper: func(t *testing.T, bare string) string {
				dir := casClone(t, bare, "main")
				require.NoError(t, os.WriteFile(filepath.Join(dir, "extra.txt"), []byte("x\n"), 0o644))
				return casForeignCommit(t, dir, casHead, gittest.ProdApp, "name: time-service\nimage: idp/localtime:v1.2.3\n", true)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			bare := provBareRepo(t)
			p := provGitProvider(t, bare)
			prop, err := p.Propose(ctx, "main", casHead, casChange, "", "")
			require.NoError(t, err)
			before := provHead(t, bare, "main").Hash
			foreign := tc.tamper(t, bare)

			_, err = p.Merge(ctx, prop)
			require.ErrorIs(t, err, git.ErrNotMergeable)
			require.ErrorContains(t, err, fmt.Sprintf("branch %s moved from %s to %s: refusing to merge what nobody approved", casHead, prop.Commit, foreign))
			require.Equal(t, before, provHead(t, bare, "main").Hash, "base untouched")
			require.False(t, casContains(t, bare, "main", foreign))
		})
	}
}

// Propose never reuses a branch holding anything but its own one commit on base.
func TestProposeRebuildsAForeignBranch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(t *testing.T, bare string, p *provider) (foreign string)
	}{
		{
			name: "a branch someone else made with the same file and more",
			prepare: func(t *testing.T, bare string, _ *provider) string {
				dir := casClone(t, bare, "main")
				require.NoError(t, os.WriteFile(filepath.Join(dir, "extra.txt"), []byte("x\n"), 0o644))
				return casForeignCommit(t, dir, casHead, gittest.ProdApp, "name: time-service\nimage: idp/localtime:v1.2.3\n", false)
			},
		},
		{
			name: "a foreign commit on top of an earlier proposal",
			prepare: func(t *testing.T, bare string, p *provider) string {
				_, err := p.Propose(context.Background(), "main", casHead, casChange, "", "")
				require.NoError(t, err)
				return casForeignCommit(t, casClone(t, bare, casHead), casHead, "extra.txt", "x\n", false)
			},
		},
		{
			name: "our commit with another workflow's message",
			prepare: func(t *testing.T, bare string, p *provider) string {
				other := casChange
				other.Message = "promote time-service v1.2.3 to prod\n\nworkflow: someone-else\n"
				prop, err := p.Propose(context.Background(), "main", casHead, other, "", "")
				require.NoError(t, err)
				return prop.Commit
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bare := provBareRepo(t)
			p := provGitProvider(t, bare)
			base := provHead(t, bare, "main")
			foreign := tc.prepare(t, bare, p)

			prop, err := p.Propose(context.Background(), "main", casHead, casChange, "", "")
			require.NoError(t, err)
			hc := provHead(t, bare, casHead)
			require.Equal(t, prop.Commit, hc.Hash.String())
			require.Equal(t, casChange.Message, hc.Message)
			require.Equal(t, base.Hash, hc.ParentHashes[0], "one commit on base")
			require.Equal(t, []string{gittest.ProdApp}, provChangedPaths(t, hc))
			require.False(t, casContains(t, bare, casHead, foreign))
			res, err := p.Merge(context.Background(), prop)
			require.NoError(t, err)
			require.Equal(t, prop.Commit, res.Commit)
			require.False(t, casContains(t, bare, "main", foreign))
		})
	}
}

// While another clone keeps pushing to main with the plain git CLI, provider commits race
// it: every push on both sides must end up in main's history.
func TestCommitRacesOtherPushers(t *testing.T) {
	t.Parallel()
	const pushes, commits = 12, 6
	bare := provBareRepo(t)
	p := provGitProvider(t, bare)
	clone := casClone(t, bare, "main")
	start := make(chan struct{})
	errs := make(chan error, pushes+commits)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		errs <- casPushLoop(clone, pushes)
	}()
	casCommitServices(p, commits, start, &wg, errs)
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, fmt.Sprint(1+pushes+commits), provGit(t, bare, "rev-list", "--count", "main"), "no lost update")
	subjects := provGit(t, bare, "log", "--format=%s", "main")
	for i := range pushes {
		require.Contains(t, subjects, fmt.Sprintf("cli %d\n", i))
	}
	for i := range commits {
		require.Contains(t, subjects, fmt.Sprintf("provider %d\n", i))
	}
	provFsck(t, bare)
}

// casCommitServices starts n commits through p, each of its own service's manifest with the
// message "provider <i>", once start is closed; each sends its error (or that nothing changed)
// to errs and is counted in wg.
func casCommitServices(p *provider, n int, start <-chan struct{}, wg *sync.WaitGroup, errs chan<- error) {
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			path := fmt.Sprintf("argocd/applications/dev/svc-%d.yaml", i)
			res, err := p.Commit(context.Background(), "main", git.Change{Path: path, Edit: gittest.Image("v1"), Message: fmt.Sprintf("provider %d", i)})
			if err == nil && !res.Changed {
				err = fmt.Errorf("provider %d: nothing changed", i)
			}
			errs <- err
		}()
	}
}

// casPushLoop makes n commits in clone and pushes each to main, rebasing on a rejection.
func casPushLoop(clone string, n int) error {
	for i := range n {
		f, err := os.OpenFile(filepath.Join(clone, "notes.txt"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(f, "note %d\n", i)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if _, err := casGit(clone, "add", "notes.txt"); err != nil {
			return err
		}
		if _, err := casGit(clone, "commit", "--quiet", "-m", fmt.Sprintf("cli %d", i)); err != nil {
			return err
		}
		if err := casPush(clone); err != nil {
			return err
		}
	}
	return nil
}

func casPush(clone string) error {
	var err error
	for range 100 {
		if _, err = casGit(clone, "push", "--quiet", "origin", "HEAD:main"); err == nil {
			return nil
		}
		if _, err = casGit(clone, "pull", "--quiet", "--rebase", "origin", "main"); err != nil {
			return err
		}
	}
	return err
}

// A base that moved on after approval gets exactly the approved change on top, and a retry
// returns the same commit.
func TestMergeAfterBaseMoved(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		move  func(t *testing.T, clone string) // pushes to main from a CLI clone
		check func(t *testing.T, bare, moved string, prop git.Proposal, res git.CommitResult)
	}{
		{
			name: "an unrelated file changed: the approved change lands on top",
			move: func(t *testing.T, clone string) {
				casForeignCommit(t, clone, "main", "README.md", "platform, edited\n", false)
			},
			check: func(t *testing.T, bare, moved string, prop git.Proposal, res git.CommitResult) {
				tip := provHead(t, bare, "main")
				require.Equal(t, res.Commit, tip.Hash.String())
				require.Equal(t, moved, tip.ParentHashes[0].String(), "on top of the unrelated commit")
				require.Equal(t, casChange.Message, tip.Message)
				require.Equal(t, []string{gittest.ProdApp}, provChangedPaths(t, tip))
				require.Equal(t, "platform, edited\n", provFile(t, tip, "README.md"))
				require.Contains(t, provFile(t, tip, gittest.ProdApp), "v1.2.3")
				require.Equal(t, provFile(t, casCommit(t, bare, prop.Commit), gittest.ProdApp), provFile(t, tip, gittest.ProdApp))
			},
		},
		{
			name: "base already made the same change: nothing new is written",
			move: func(t *testing.T, clone string) {
				casForeignCommit(t, clone, "main", gittest.ProdApp, "name: time-service\nimage: idp/localtime:v1.2.3\n", false)
			},
			check: func(t *testing.T, bare, moved string, _ git.Proposal, res git.CommitResult) {
				require.Equal(t, moved, res.Commit)
				require.Equal(t, moved, provHead(t, bare, "main").Hash.String())
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			bare := provBareRepo(t)
			p := provGitProvider(t, bare)
			prop, err := p.Propose(ctx, "main", casHead, casChange, "", "")
			require.NoError(t, err)
			tc.move(t, casClone(t, bare, "main"))
			moved := provHead(t, bare, "main").Hash.String()

			res, err := p.Merge(ctx, prop)
			require.NoError(t, err)
			require.True(t, res.Changed)
			require.True(t, casContains(t, bare, "main", moved), "the commit that moved base is kept")
			tc.check(t, bare, moved, prop, res)
			again, err := p.Merge(ctx, prop)
			require.NoError(t, err)
			require.Equal(t, res, again)
			require.Equal(t, prop.Commit, provHead(t, bare, casHead).Hash.String(), "merging leaves the proposal branch alone")
			provFsck(t, bare)
		})
	}
}

// casCommit reads commit hash from the bare repository.
func casCommit(t *testing.T, bare, hash string) *object.Commit {
	t.Helper()
	repo, err := gogit.PlainOpen(bare)
	require.NoError(t, err)
	c, err := repo.CommitObject(plumbing.NewHash(hash))
	require.NoError(t, err)
	return c
}

// A push works out what to send from the tips it moves between, never from the history
// behind them (go-git walks all of it otherwise, which grows with the square of the history):
// the view it pushes through shows those commits and hides older ones, and what lands is
// complete.
func TestPushSeesOnlyTheTips(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bare := provBareRepo(t)
	clone := casClone(t, bare, "main")
	for i := range 5 {
		casForeignCommit(t, clone, "main", fmt.Sprintf("docs/%d.md", i), "doc\n", false)
	}
	p := provGitProvider(t, bare)
	s, err := p.session()
	require.NoError(t, err)
	tip, err := s.fetchBranch(ctx, "main")
	require.NoError(t, err)
	tree, err := s.applyChange(tip, casChange)
	require.NoError(t, err)
	h, err := s.writeCommit(tip.Hash, tree, casChange.Message, nil)
	require.NoError(t, err)
	update := refUpdate{branch: "main", from: tip.Hash, to: h}

	pusher, err := s.pusher([]refUpdate{update})
	require.NoError(t, err)
	for _, seen := range []plumbing.Hash{h, tip.Hash} {
		_, err := pusher.CommitObject(seen)
		require.NoError(t, err, "the view shows %s", seen)
	}
	_, err = pusher.CommitObject(tip.ParentHashes[0])
	require.ErrorIs(t, err, plumbing.ErrObjectNotFound, "the view hides what is behind the tip")
	_, err = s.repo.CommitObject(tip.ParentHashes[0])
	require.NoError(t, err, "the session itself still has the history")

	require.NoError(t, s.push(ctx, update))
	require.Equal(t, h, provHead(t, bare, "main").Hash)
	require.Equal(t, "7", provGit(t, bare, "rev-list", "--count", "main"))
	provFsck(t, bare)
}

// The worker's own writes to one branch take turns: 20 commits at once, each allowed a single
// attempt, all land (racing, all but one would lose the push and need another round), and a
// turn is given up when the caller's context ends.
func TestCommitsOfOneWorkerTakeTurns(t *testing.T) {
	t.Parallel()
	const commits = 20
	bare := provBareRepo(t)
	p := provGitProvider(t, bare)
	p.retry = retry.Policy{Attempts: 1}
	start := make(chan struct{})
	errs := make(chan error, commits)
	var wg sync.WaitGroup
	casCommitServices(p, commits, start, &wg, errs)
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "a single attempt each is enough")
	}
	require.Equal(t, fmt.Sprint(1+commits), provGit(t, bare, "rev-list", "--count", "main"))

	done, err := p.turn(context.Background(), "main")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = p.Commit(ctx, "main", git.Change{Path: "argocd/applications/dev/late.yaml", Edit: gittest.Image("v1"), Message: "late"})
	require.ErrorIs(t, err, context.DeadlineExceeded, "waiting for the turn ends with the context")
	done()
}
