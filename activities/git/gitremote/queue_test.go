package gitremote

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/internal/gittest"
	"github.com/alexpermiakov/idp/activities/git/internal/retry"
)

// queueBare is a bare repository whose receive-pack logs every update of main, so a test can
// count the pushes that reached it.
func queueBare(t *testing.T) string {
	t.Helper()
	bare := provBareRepo(t)
	provGit(t, bare, "config", "core.logAllRefUpdates", "always")
	return bare
}

// queueHeld is a provider for a fresh queueBare repository whose main is held, as by a write in
// progress: commits started now queue until done is called.
func queueHeld(t *testing.T) (bare string, p *provider, done func()) {
	t.Helper()
	bare = queueBare(t)
	p = provGitProvider(t, bare)
	done, err := p.turn(context.Background(), "main")
	require.NoError(t, err)
	return bare, p, done
}

// queuePushes is the number of updates of main the remote logged.
func queuePushes(t *testing.T, bare string) int {
	t.Helper()
	return len(strings.Fields(provGit(t, bare, "reflog", "show", "--format=%H", "main")))
}

// queueWait waits until n commits are queued for branch.
func queueWait(t *testing.T, p *provider, branch string, n int) {
	t.Helper()
	b := p.branch(branch)
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.queued) == n
	}, 10*time.Second, 5*time.Millisecond, "%d commits queued", n)
}

type queueOutcome struct {
	change git.Change
	res    git.CommitResult
	err    error
}

// queueCommit starts a commit of c to main and sends its outcome to out.
func queueCommit(p *provider, c git.Change, out chan<- queueOutcome) {
	go func() {
		res, err := p.Commit(context.Background(), "main", c)
		out <- queueOutcome{c, res, err}
	}()
}

// Commits that queue while the branch is busy go out as one push: one commit per caller, each
// with its own message, hash and file; an edit that fails (or panics) gets its own error and
// stays out; a change with nothing to do gets a commit already on the branch.
func TestQueuedCommitsGoOutInOnePush(t *testing.T) {
	t.Parallel()
	const n = 12
	bare, p, done := queueHeld(t)
	p.retry = retry.Policy{Attempts: 1}

	out := make(chan queueOutcome, n+3)
	for i := range n {
		queueCommit(p, git.Change{Path: fmt.Sprintf("argocd/applications/dev/svc-%d.yaml", i), Edit: gittest.Image("v1"),
			Message: fmt.Sprintf("provider %d", i)}, out)
	}
	queueCommit(p, git.Change{Path: "argocd/applications/dev/broken.yaml", Message: "broken",
		Edit: func([]byte) ([]byte, error) { return nil, errors.New("bad manifest") }}, out)
	queueCommit(p, git.Change{Path: "argocd/applications/dev/panics.yaml", Message: "panics",
		Edit: func([]byte) ([]byte, error) { panic("edit bug") }}, out)
	queueCommit(p, git.Change{Path: gittest.DevApp, Message: "nothing to do",
		Edit: func(old []byte) ([]byte, error) { return old, nil }}, out)
	queueWait(t, p, "main", n+3)
	done()

	hashes := map[string]bool{}
	for range n + 3 {
		o := <-out
		switch o.change.Message {
		case "broken":
			require.ErrorContains(t, o.err, "bad manifest")
			require.ErrorContains(t, o.err, "committing argocd/applications/dev/broken.yaml to main")
		case "panics":
			require.ErrorContains(t, o.err, "editing argocd/applications/dev/panics.yaml: panic: edit bug")
		case "nothing to do":
			require.NoError(t, o.err)
			require.False(t, o.res.Changed)
			provGit(t, bare, "merge-base", "--is-ancestor", o.res.Commit, "main")
		default:
			require.NoError(t, o.err, o.change.Message)
			require.True(t, o.res.Changed, o.change.Message)
			require.False(t, hashes[o.res.Commit], "each caller has its own commit")
			hashes[o.res.Commit] = true
			require.Equal(t, o.change.Message, provGit(t, bare, "log", "-1", "--format=%s", o.res.Commit))
			require.Equal(t, o.change.Path, provGit(t, bare, "diff-tree", "--no-commit-id", "--name-only", "-r", o.res.Commit))
			provGit(t, bare, "merge-base", "--is-ancestor", o.res.Commit, "main")
		}
	}
	require.Equal(t, fmt.Sprint(1+n), provGit(t, bare, "rev-list", "--count", "main"), "one commit per change, none for the others")
	require.Equal(t, 1, queuePushes(t, bare), "one push for the whole queue")
	provFsck(t, bare)
}

// A group whose push loses to a writer elsewhere starts over on the new tip: every change is
// applied again there, and all of them land next to the other writer's.
func TestGroupStartsOverAfterLosingThePush(t *testing.T) {
	t.Parallel()
	const n = 5
	bare, p, done := queueHeld(t)
	other := provGitProvider(t, bare)
	other.writers = new(sync.Map) // a writer in another process

	var mu sync.Mutex
	applied := map[string]int{}
	counted := func(path string, edit git.Edit) git.Edit {
		return func(old []byte) ([]byte, error) {
			mu.Lock()
			applied[path]++
			first := path == gittest.ProdApp && applied[path] == 1
			mu.Unlock()
			if first { // the other writer gets in between the group's fetch and its push
				if _, err := other.Commit(context.Background(), "main", git.Change{Path: "notes.txt", Edit: gittest.Append("other"), Message: "other"}); err != nil {
					return nil, err
				}
			}
			return edit(old)
		}
	}
	out := make(chan queueOutcome, n+1)
	queueCommit(p, git.Change{Path: gittest.ProdApp, Edit: counted(gittest.ProdApp, gittest.Append("replicas: 2")), Message: "prod"}, out)
	queueWait(t, p, "main", 1)
	for i := range n {
		path := fmt.Sprintf("argocd/applications/dev/svc-%d.yaml", i)
		queueCommit(p, git.Change{Path: path, Edit: counted(path, gittest.Image("v1")), Message: fmt.Sprintf("provider %d", i)}, out)
	}
	queueWait(t, p, "main", n+1)
	done()

	for range n + 1 {
		o := <-out
		require.NoError(t, o.err, o.change.Message)
		require.True(t, o.res.Changed, o.change.Message)
		provGit(t, bare, "merge-base", "--is-ancestor", o.res.Commit, "main")
	}
	mu.Lock()
	defer mu.Unlock()
	for path, times := range applied {
		require.Equal(t, 2, times, "%s applied on the first tip and again on the new one", path)
	}
	require.Len(t, applied, n+1)
	require.Equal(t, fmt.Sprint(1+1+n+1), provGit(t, bare, "rev-list", "--count", "main"), "the other writer's commit and all of ours")
	require.Equal(t, 2, queuePushes(t, bare), "the other writer's push and the group's second attempt")
	provFsck(t, bare)
}

// A caller that gives up while its commit waits in the queue is left out of the group.
func TestQueuedCommitLeftOutWhenItsCallerGivesUp(t *testing.T) {
	t.Parallel()
	bare, p, done := queueHeld(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan queueOutcome, 2)
	go func() {
		c := git.Change{Path: "argocd/applications/dev/gone.yaml", Edit: gittest.Image("v1"), Message: "gone"}
		res, err := p.Commit(ctx, "main", c)
		out <- queueOutcome{c, res, err}
	}()
	queueWait(t, p, "main", 1)
	queueCommit(p, git.Change{Path: "argocd/applications/dev/kept.yaml", Edit: gittest.Image("v1"), Message: "kept"}, out)
	queueWait(t, p, "main", 2)
	cancel()
	gone := <-out
	require.ErrorIs(t, gone.err, context.Canceled)
	done()
	kept := <-out
	require.NoError(t, kept.err)
	require.Equal(t, "kept", provGit(t, bare, "log", "-1", "--format=%s", "main"))
	require.Equal(t, "2", provGit(t, bare, "rev-list", "--count", "main"), "the seed and the kept commit only")
}

// At most maxProposing proposals to one remote hold a copy of its tip at once; the next
// waits for a slot, gives up with its caller, and another remote has slots of its own.
func TestProposalsTakeTurnsPerRemote(t *testing.T) {
	url := "file://" + t.TempDir()
	var held []func()
	for range maxProposing {
		release, err := proposing(context.Background(), url)
		require.NoError(t, err)
		held = append(held, release)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := proposing(ctx, url)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "proposal slots")

	other, err := proposing(context.Background(), url+"-other")
	require.NoError(t, err, "another remote has its own slots")
	other()

	got := make(chan func())
	go func() {
		release, err := proposing(context.Background(), url)
		if err == nil {
			got <- release
		}
	}()
	select {
	case <-got:
		t.Fatal("a proposal got a slot while all were held")
	case <-time.After(100 * time.Millisecond):
	}
	held[0]()
	select {
	case release := <-got:
		release()
	case <-time.After(5 * time.Second):
		t.Fatal("a released slot went to no one waiting")
	}
	for _, release := range held[1:] {
		release()
	}
}
