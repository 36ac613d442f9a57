package gitremote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/internal/gittest"
)

// provGit runs the git CLI isolated from the user's configuration.
func provGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=seed", "GIT_AUTHOR_EMAIL=seed@test", "GIT_COMMITTER_NAME=seed", "GIT_COMMITTER_EMAIL=seed@test")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %s:\n%s", strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

// provBareRepo creates a bare repository with gittest.Seed on main and returns its directory.
func provBareRepo(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("the git CLI is needed for file:// remotes: apt-get install git")
	}
	root := t.TempDir()
	bare, work := filepath.Join(root, "platform.git"), filepath.Join(root, "work")
	provGit(t, root, "init", "--quiet", "--bare", "--initial-branch=main", bare)
	provGit(t, root, "init", "--quiet", "--initial-branch=main", work)
	for p, content := range gittest.Seed {
		require.NoError(t, os.MkdirAll(filepath.Join(work, filepath.Dir(p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(work, p), []byte(content), 0o644))
	}
	provGit(t, work, "add", "-A")
	provGit(t, work, "commit", "--quiet", "-m", "seed")
	provGit(t, work, "push", "--quiet", bare, "main")
	return bare
}

// provGitProvider is a provider for the bare repository with fast retries.
func provGitProvider(t *testing.T, bare string) *provider {
	t.Helper()
	return provProvider(t, "file://"+bare, git.Options{})
}

func provProvider(t *testing.T, url string, opts git.Options) *provider {
	t.Helper()
	p, err := New(url, opts)
	require.NoError(t, err)
	pp := p.(*provider)
	pp.retry = gittest.FastRetry
	return pp
}

// provHead returns the commit branch points at in the bare repository.
func provHead(t *testing.T, bare, branch string) *object.Commit {
	t.Helper()
	repo, err := gogit.PlainOpen(bare)
	require.NoError(t, err)
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(branch), true)
	require.NoError(t, err, "branch %s", branch)
	c, err := repo.CommitObject(ref.Hash())
	require.NoError(t, err)
	return c
}

// provBranches lists the bare repository's branches.
func provBranches(t *testing.T, bare string) []string {
	t.Helper()
	out := provGit(t, bare, "for-each-ref", "--format=%(refname:short)", "refs/heads/")
	return strings.Fields(out)
}

func provFile(t *testing.T, c *object.Commit, path string) string {
	t.Helper()
	b, ok, err := readFile(c, path)
	require.NoError(t, err)
	require.True(t, ok, "%s missing in %s", path, c.Hash)
	return string(b)
}

// provChangedPaths lists what c changed against its first parent.
func provChangedPaths(t *testing.T, c *object.Commit) []string {
	t.Helper()
	parent, err := c.Parent(0)
	require.NoError(t, err)
	from, err := parent.Tree()
	require.NoError(t, err)
	to, err := c.Tree()
	require.NoError(t, err)
	changes, err := object.DiffTree(from, to)
	require.NoError(t, err)
	var paths []string
	for _, ch := range changes {
		name := ch.To.Name
		if name == "" {
			name = ch.From.Name
		}
		paths = append(paths, name)
	}
	return paths
}

// provFsck has git itself check every object the provider wrote (tree order, modes, ...).
func provFsck(t *testing.T, bare string) {
	t.Helper()
	provGit(t, bare, "fsck", "--strict", "--no-dangling")
}

func TestCommit(t *testing.T) {
	t.Parallel()
	msg := "promote time-service to dev\n\nworkflow: promote-time-service-sha-1234567\ndigest: sha256:abc\n"
	tests := []struct {
		name   string
		branch string
		change git.Change
		check  func(t *testing.T, bare string, before *object.Commit, res git.CommitResult, err error)
	}{
		{
			name:   "writes exactly the edited file and message",
			branch: "main",
			change: git.Change{Path: gittest.DevApp, Edit: gittest.Image("idp/localtime:sha-1234567"), Message: msg},
			check: func(t *testing.T, bare string, before *object.Commit, res git.CommitResult, err error) {
				require.NoError(t, err)
				require.True(t, res.Changed)
				after := provHead(t, bare, "main")
				require.Equal(t, after.Hash.String(), res.Commit)
				require.Equal(t, []plumbing.Hash{before.Hash}, after.ParentHashes)
				require.Equal(t, msg, after.Message)
				require.Equal(t, "idp", after.Author.Name)
				require.Equal(t, "idp@localhost", after.Committer.Email)
				require.WithinDuration(t, time.Now(), after.Committer.When, time.Minute)
				require.Equal(t, []string{gittest.DevApp}, provChangedPaths(t, after))
				require.Equal(t, "name: time-service\nimage: idp/localtime:sha-1234567\n", provFile(t, after, gittest.DevApp))
				require.Equal(t, gittest.Seed[gittest.ProdApp], provFile(t, after, gittest.ProdApp))
				provFsck(t, bare)
			},
		},
		{
			name:   "creates a file in a new directory",
			branch: "main",
			change: git.Change{Path: "argocd/applications/qa/version-service.yaml", Edit: gittest.Image("idp/version:v1"), Message: "add qa"},
			check: func(t *testing.T, bare string, _ *object.Commit, res git.CommitResult, err error) {
				require.NoError(t, err)
				require.True(t, res.Changed)
				after := provHead(t, bare, "main")
				require.Equal(t, []string{"argocd/applications/qa/version-service.yaml"}, provChangedPaths(t, after))
				require.Equal(t, "image: idp/version:v1\n", provFile(t, after, "argocd/applications/qa/version-service.yaml"))
				provFsck(t, bare)
			},
		},
		{
			name:   "an edit that changes nothing returns the head unchanged",
			branch: "main",
			change: git.Change{Path: gittest.ProdApp, Edit: gittest.Image("idp/localtime:v1.0.0"), Message: "noop"},
			check: func(t *testing.T, bare string, before *object.Commit, res git.CommitResult, err error) {
				require.NoError(t, err)
				require.Equal(t, git.CommitResult{Commit: before.Hash.String(), Changed: false}, res)
				require.Equal(t, before.Hash, provHead(t, bare, "main").Hash)
			},
		},
		{
			name:   "an edit error is returned, nothing is pushed",
			branch: "main",
			change: git.Change{Path: gittest.DevApp, Edit: func([]byte) ([]byte, error) { return nil, errors.New("no app.image") }, Message: "x"},
			check: func(t *testing.T, bare string, before *object.Commit, _ git.CommitResult, err error) {
				require.ErrorContains(t, err, "no app.image")
				require.Equal(t, before.Hash, provHead(t, bare, "main").Hash)
			},
		},
		{
			name:   "an unknown branch is git.ErrNotFound",
			branch: "nope",
			change: git.Change{Path: gittest.DevApp, Edit: gittest.Image("x"), Message: "x"},
			check: func(t *testing.T, _ string, _ *object.Commit, _ git.CommitResult, err error) {
				require.ErrorIs(t, err, git.ErrNotFound)
				require.ErrorIs(t, err, git.ErrUnknownBranch)
			},
		},
		{
			name:   "a directory is not a file",
			branch: "main",
			change: git.Change{Path: "argocd/applications/dev", Edit: gittest.Image("x"), Message: "x"},
			check: func(t *testing.T, bare string, before *object.Commit, _ git.CommitResult, err error) {
				require.ErrorContains(t, err, "is a directory")
				require.Equal(t, before.Hash, provHead(t, bare, "main").Hash)
			},
		},
		{
			name:   "a path leaving the repository is refused",
			branch: "main",
			change: git.Change{Path: "../etc/passwd", Edit: gittest.Image("x"), Message: "x"},
			check: func(t *testing.T, _ string, _ *object.Commit, _ git.CommitResult, err error) {
				require.ErrorContains(t, err, "invalid repository path")
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bare := provBareRepo(t)
			before := provHead(t, bare, "main")
			res, err := provGitProvider(t, bare).Commit(context.Background(), tc.branch, tc.change)
			tc.check(t, bare, before, res, err)
		})
	}
}

func TestCommitAuthorFromOptions(t *testing.T) {
	t.Parallel()
	bare := provBareRepo(t)
	p := provProvider(t, "file://"+bare, git.Options{Author: git.Author{Name: "Platform Bot", Email: "bot@example.com"}})
	_, err := p.Commit(context.Background(), "main", git.Change{Path: gittest.DevApp, Edit: gittest.Image("a"), Message: "m"})
	require.NoError(t, err)
	c := provHead(t, bare, "main")
	require.Equal(t, "Platform Bot", c.Author.Name)
	require.Equal(t, "bot@example.com", c.Committer.Email)
}

func TestUnknownRepository(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("the git CLI is needed for file:// remotes: apt-get install git")
	}
	p := provGitProvider(t, filepath.Join(t.TempDir(), "missing.git"))
	_, err := p.Commit(context.Background(), "main", git.Change{Path: gittest.DevApp, Edit: gittest.Image("a"), Message: "m"})
	require.ErrorIs(t, err, git.ErrNotFound)
}

// A push that loses the race (someone pushed between our fetch and our push) re-reads the new
// head and re-applies the edit there.
func TestCommitRetriesAfterLosingTheRace(t *testing.T) {
	t.Parallel()
	bare := provBareRepo(t)
	p := provGitProvider(t, bare)
	other := provGitProvider(t, bare)
	other.writers = new(sync.Map) // a writer in another process: it does not wait for our turn
	calls := 0
	edit := func(old []byte) ([]byte, error) {
		calls++
		if calls == 1 { // another writer gets in between our read and our push
			_, err := other.Commit(context.Background(), "main", git.Change{Path: gittest.ProdApp, Edit: gittest.Append("replicas: 3"), Message: "other"})
			require.NoError(t, err)
		}
		return gittest.Append("replicas: 2")(old)
	}
	res, err := p.Commit(context.Background(), "main", git.Change{Path: gittest.ProdApp, Edit: edit, Message: "ours"})
	require.NoError(t, err)
	require.Equal(t, 2, calls, "the edit is re-applied on the new head")
	tip := provHead(t, bare, "main")
	require.Equal(t, res.Commit, tip.Hash.String())
	require.Equal(t, gittest.Seed[gittest.ProdApp]+"replicas: 3\nreplicas: 2\n", provFile(t, tip, gittest.ProdApp))
	parent, err := tip.Parent(0)
	require.NoError(t, err)
	require.Equal(t, "other", parent.Message)
}

// Two writers racing for main, each editing its own file for several rounds: every push that
// loses the race must re-read, re-apply and retry, so no edit is lost.
func TestConcurrentCommits(t *testing.T) {
	t.Parallel()
	bare := provBareRepo(t)
	p := provGitProvider(t, bare)
	const rounds = 4
	files := []string{gittest.DevApp, "argocd/applications/dev/version-service.yaml"}
	start := make(chan struct{})
	errs := make(chan error, len(files)*rounds)
	var wg sync.WaitGroup
	var edits atomic.Int32
	for w, path := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range rounds {
				res, err := p.Commit(context.Background(), "main", git.Change{
					Path: path, Message: fmt.Sprintf("writer %d round %d", w, i),
					Edit: func(old []byte) ([]byte, error) {
						edits.Add(1)
						return gittest.Append(fmt.Sprintf("writer %d round %d", w, i))(old)
					},
				})
				if err == nil && !res.Changed {
					err = fmt.Errorf("writer %d round %d: nothing changed", w, i)
				}
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	t.Logf("%d edits for %d commits", edits.Load(), len(files)*rounds)
	head := provHead(t, bare, "main")
	for w, path := range files {
		content := provFile(t, head, path)
		for i := range rounds {
			require.Contains(t, content, fmt.Sprintf("writer %d round %d\n", w, i))
		}
	}
	count := strings.Fields(provGit(t, bare, "rev-list", "--count", "main"))
	require.Equal(t, []string{fmt.Sprint(1 + len(files)*rounds)}, count, "one commit per edit on top of the seed")
	provFsck(t, bare)
}

func TestNewNeedsURL(t *testing.T) {
	t.Parallel()
	_, err := New("", git.Options{Token: "ghp_token"})
	require.ErrorContains(t, err, "needs the repository URL")
}

// Credentials reach no error message, whether they come in Options or in the remote's URL.
func TestErrorsHideCredentials(t *testing.T) {
	t.Parallel()
	const token = "ghp_0123456789abcdefghijklmnop"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nobody listens there now: every request fails at once
	for _, url := range []string{
		"https://" + token + "@" + addr + "/acme/platform.git",
		"https://x-access-token:" + token + "@" + addr + "/acme/platform.git",
		"https://" + addr + "/acme/platform.git",
	} {
		p := provProvider(t, url, git.Options{Token: token})
		_, err := p.Commit(context.Background(), "main", git.Change{Path: gittest.DevApp, Edit: gittest.Image("a"), Message: "m"})
		require.Error(t, err, url)
		require.NotContains(t, err.Error(), token, url)
		require.Contains(t, err.Error(), addr, "the message still names the remote")
	}
}
