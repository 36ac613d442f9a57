package git

import (
	"context"
	"errors"
	"fmt"
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

	"github.com/alexpermiakov/idp/internal/config"
)

const (
	provDevApp  = "argocd/applications/dev/time-service.yaml"
	provProdApp = "argocd/applications/prod/time-service.yaml"
)

// provSeed is the platform repository every test starts from.
var provSeed = map[string]string{
	provDevApp:  "name: time-service\nimage: idp/localtime:sha-0000000\n",
	provProdApp: "name: time-service\nimage: idp/localtime:v1.0.0\n",
	"README.md": "platform\n",
}

// provFastRetry keeps retry delays in tests to milliseconds.
var provFastRetry = retryPolicy{attempts: 40, base: time.Millisecond, max: 20 * time.Millisecond}

// provGit runs the git CLI isolated from the user's configuration.
func provGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=seed", "GIT_AUTHOR_EMAIL=seed@test", "GIT_COMMITTER_NAME=seed", "GIT_COMMITTER_EMAIL=seed@test")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %s:\n%s", strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

// provBareRepo creates a bare repository with provSeed on main and returns its directory.
func provBareRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("the git CLI is needed for file:// remotes: apt-get install git")
	}
	root := t.TempDir()
	bare, work := filepath.Join(root, "platform.git"), filepath.Join(root, "work")
	provGit(t, root, "init", "--quiet", "--bare", "--initial-branch=main", bare)
	provGit(t, root, "init", "--quiet", "--initial-branch=main", work)
	for p, content := range provSeed {
		require.NoError(t, os.MkdirAll(filepath.Join(work, filepath.Dir(p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(work, p), []byte(content), 0o644))
	}
	provGit(t, work, "add", "-A")
	provGit(t, work, "commit", "--quiet", "-m", "seed")
	provGit(t, work, "push", "--quiet", bare, "main")
	return bare
}

func provGitProvider(bare string) *gitProvider {
	p := newGitProvider("file://" + bare)
	p.retry = provFastRetry
	return p
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

// provImage rewrites the image line, like the Promote workflow's edit.
func provImage(image string) Edit {
	return func(old []byte) ([]byte, error) {
		if old == nil {
			return []byte("image: " + image + "\n"), nil
		}
		var out []string
		for _, line := range strings.SplitAfter(string(old), "\n") {
			if strings.HasPrefix(line, "image: ") {
				line = "image: " + image + "\n"
			}
			out = append(out, line)
		}
		return []byte(strings.Join(out, "")), nil
	}
}

// provAppend adds a line to the file.
func provAppend(line string) Edit {
	return func(old []byte) ([]byte, error) { return append(append([]byte{}, old...), line+"\n"...), nil }
}

func TestGitProviderCommit(t *testing.T) {
	t.Parallel()
	msg := "promote time-service to dev\n\nworkflow: promote-time-service-sha-1234567\ndigest: sha256:abc\n"
	tests := []struct {
		name   string
		branch string
		change Change
		check  func(t *testing.T, bare string, before *object.Commit, res CommitResult, err error)
	}{
		{
			name:   "writes exactly the edited file and message",
			branch: "main",
			change: Change{Path: provDevApp, Edit: provImage("idp/localtime:sha-1234567"), Message: msg},
			check: func(t *testing.T, bare string, before *object.Commit, res CommitResult, err error) {
				require.NoError(t, err)
				require.True(t, res.Changed)
				after := provHead(t, bare, "main")
				require.Equal(t, after.Hash.String(), res.Commit)
				require.Equal(t, []plumbing.Hash{before.Hash}, after.ParentHashes)
				require.Equal(t, msg, after.Message)
				require.Equal(t, "idp", after.Author.Name)
				require.Equal(t, "idp@localhost", after.Committer.Email)
				require.WithinDuration(t, time.Now(), after.Committer.When, time.Minute)
				require.Equal(t, []string{provDevApp}, provChangedPaths(t, after))
				require.Equal(t, "name: time-service\nimage: idp/localtime:sha-1234567\n", provFile(t, after, provDevApp))
				require.Equal(t, provSeed[provProdApp], provFile(t, after, provProdApp))
				provFsck(t, bare)
			},
		},
		{
			name:   "creates a file in a new directory",
			branch: "main",
			change: Change{Path: "argocd/applications/qa/version-service.yaml", Edit: provImage("idp/version:v1"), Message: "add qa"},
			check: func(t *testing.T, bare string, _ *object.Commit, res CommitResult, err error) {
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
			change: Change{Path: provProdApp, Edit: provImage("idp/localtime:v1.0.0"), Message: "noop"},
			check: func(t *testing.T, bare string, before *object.Commit, res CommitResult, err error) {
				require.NoError(t, err)
				require.Equal(t, CommitResult{Commit: before.Hash.String(), Changed: false}, res)
				require.Equal(t, before.Hash, provHead(t, bare, "main").Hash)
			},
		},
		{
			name:   "an edit error is returned, nothing is pushed",
			branch: "main",
			change: Change{Path: provDevApp, Edit: func([]byte) ([]byte, error) { return nil, errors.New("no app.image") }, Message: "x"},
			check: func(t *testing.T, bare string, before *object.Commit, _ CommitResult, err error) {
				require.ErrorContains(t, err, "no app.image")
				require.Equal(t, before.Hash, provHead(t, bare, "main").Hash)
			},
		},
		{
			name:   "an unknown branch is ErrNotFound",
			branch: "nope",
			change: Change{Path: provDevApp, Edit: provImage("x"), Message: "x"},
			check: func(t *testing.T, _ string, _ *object.Commit, _ CommitResult, err error) {
				require.ErrorIs(t, err, ErrNotFound)
				require.ErrorIs(t, err, ErrUnknownBranch)
			},
		},
		{
			name:   "a directory is not a file",
			branch: "main",
			change: Change{Path: "argocd/applications/dev", Edit: provImage("x"), Message: "x"},
			check: func(t *testing.T, bare string, before *object.Commit, _ CommitResult, err error) {
				require.ErrorContains(t, err, "is a directory")
				require.Equal(t, before.Hash, provHead(t, bare, "main").Hash)
			},
		},
		{
			name:   "a path leaving the repository is refused",
			branch: "main",
			change: Change{Path: "../etc/passwd", Edit: provImage("x"), Message: "x"},
			check: func(t *testing.T, _ string, _ *object.Commit, _ CommitResult, err error) {
				require.ErrorContains(t, err, "invalid repository path")
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bare := provBareRepo(t)
			before := provHead(t, bare, "main")
			res, err := provGitProvider(bare).Commit(context.Background(), tc.branch, tc.change)
			tc.check(t, bare, before, res, err)
		})
	}
}

func TestGitProviderCommitAuthorFromEnv(t *testing.T) {
	t.Setenv("IDP_GIT_AUTHOR_NAME", "Platform Bot")
	t.Setenv("IDP_GIT_AUTHOR_EMAIL", "bot@example.com")
	bare := provBareRepo(t)
	_, err := provGitProvider(bare).Commit(context.Background(), "main", Change{Path: provDevApp, Edit: provImage("a"), Message: "m"})
	require.NoError(t, err)
	c := provHead(t, bare, "main")
	require.Equal(t, "Platform Bot", c.Author.Name)
	require.Equal(t, "bot@example.com", c.Committer.Email)
}

func TestGitProviderUnknownRepository(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("the git CLI is needed for file:// remotes: apt-get install git")
	}
	p := provGitProvider(filepath.Join(t.TempDir(), "missing.git"))
	_, err := p.Commit(context.Background(), "main", Change{Path: provDevApp, Edit: provImage("a"), Message: "m"})
	require.ErrorIs(t, err, ErrNotFound)
}

// A push that loses the race (someone pushed between our fetch and our push) re-reads the new
// head and re-applies the edit there.
func TestGitProviderCommitRetriesAfterLosingTheRace(t *testing.T) {
	t.Parallel()
	bare := provBareRepo(t)
	p := provGitProvider(bare)
	other := provGitProvider(bare)
	calls := 0
	edit := func(old []byte) ([]byte, error) {
		calls++
		if calls == 1 { // another writer gets in between our read and our push
			_, err := other.Commit(context.Background(), "main", Change{Path: provProdApp, Edit: provAppend("replicas: 3"), Message: "other"})
			require.NoError(t, err)
		}
		return provAppend("replicas: 2")(old)
	}
	res, err := p.Commit(context.Background(), "main", Change{Path: provProdApp, Edit: edit, Message: "ours"})
	require.NoError(t, err)
	require.Equal(t, 2, calls, "the edit is re-applied on the new head")
	tip := provHead(t, bare, "main")
	require.Equal(t, res.Commit, tip.Hash.String())
	require.Equal(t, provSeed[provProdApp]+"replicas: 3\nreplicas: 2\n", provFile(t, tip, provProdApp))
	parent, err := tip.Parent(0)
	require.NoError(t, err)
	require.Equal(t, "other", parent.Message)
}

// Two writers racing for main, each editing its own file for several rounds: every push that
// loses the race must re-read, re-apply and retry, so no edit is lost.
func TestGitProviderConcurrentCommits(t *testing.T) {
	t.Parallel()
	bare := provBareRepo(t)
	p := provGitProvider(bare)
	const rounds = 4
	files := []string{provDevApp, "argocd/applications/dev/version-service.yaml"}
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
				res, err := p.Commit(context.Background(), "main", Change{
					Path: path, Message: fmt.Sprintf("writer %d round %d", w, i),
					Edit: func(old []byte) ([]byte, error) {
						edits.Add(1)
						return provAppend(fmt.Sprintf("writer %d round %d", w, i))(old)
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

func TestGitProviderProposeAndMerge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prodChange := Change{Path: provProdApp, Edit: provImage("idp/localtime:v1.2.3"), Message: "promote time-service v1.2.3 to prod\n\nworkflow: promote-time-service-v1.2.3\n"}
	const head = "idp/promote-time-service-v1.2.3-prod"

	t.Run("propose twice makes one branch, merge twice returns one commit", func(t *testing.T) {
		t.Parallel()
		bare := provBareRepo(t)
		p := provGitProvider(bare)
		base := provHead(t, bare, "main")

		first, err := p.Propose(ctx, "main", head, prodChange, "title", "body")
		require.NoError(t, err)
		second, err := p.Propose(ctx, "main", head, prodChange, "title", "body")
		require.NoError(t, err)
		require.Equal(t, first, second)
		require.Equal(t, Proposal{Base: "main", Head: head, Commit: first.Commit}, first)
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
		require.Equal(t, CommitResult{Commit: first.Commit, Changed: true}, m1, "main fast-forwards to the proposal")
		require.Equal(t, first.Commit, provHead(t, bare, "main").Hash.String())

		again, err := p.Propose(ctx, "main", head, prodChange, "title", "body")
		require.NoError(t, err)
		require.Equal(t, Proposal{Base: "main", Commit: first.Commit}, again, "once merged there is nothing left to propose")
		res, err := p.Merge(ctx, again)
		require.NoError(t, err)
		require.Equal(t, CommitResult{Commit: first.Commit}, res)
	})

	t.Run("merge after base moved on keeps both changes", func(t *testing.T) {
		t.Parallel()
		bare := provBareRepo(t)
		p := provGitProvider(bare)
		prop, err := p.Propose(ctx, "main", head, prodChange, "", "")
		require.NoError(t, err)
		dev, err := p.Commit(ctx, "main", Change{Path: provDevApp, Edit: provImage("idp/localtime:sha-7654321"), Message: "dev"})
		require.NoError(t, err)

		m1, err := p.Merge(ctx, prop)
		require.NoError(t, err)
		require.True(t, m1.Changed)
		tip := provHead(t, bare, "main")
		require.Equal(t, m1.Commit, tip.Hash.String())
		require.Equal(t, dev.Commit, tip.ParentHashes[0].String(), "re-created on the moved base")
		require.Equal(t, prodChange.Message, tip.Message)
		require.Equal(t, []string{provProdApp}, provChangedPaths(t, tip))
		require.Contains(t, provFile(t, tip, provDevApp), "sha-7654321")
		require.Contains(t, provFile(t, tip, provProdApp), "v1.2.3")

		m2, err := p.Merge(ctx, prop)
		require.NoError(t, err)
		require.Equal(t, m1, m2)
		provFsck(t, bare)
	})

	t.Run("propose again after base moved rebuilds the branch on the new base", func(t *testing.T) {
		t.Parallel()
		bare := provBareRepo(t)
		p := provGitProvider(bare)
		first, err := p.Propose(ctx, "main", head, prodChange, "", "")
		require.NoError(t, err)
		dev, err := p.Commit(ctx, "main", Change{Path: provDevApp, Edit: provImage("idp/localtime:sha-1111111"), Message: "dev"})
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
		p := provGitProvider(bare)
		prop, err := p.Propose(ctx, "main", head, prodChange, "", "")
		require.NoError(t, err)
		_, err = p.Commit(ctx, "main", Change{Path: provProdApp, Edit: provImage("idp/localtime:v9.9.9"), Message: "hotfix"})
		require.NoError(t, err)
		before := provHead(t, bare, "main")
		_, err = p.Merge(ctx, prop)
		require.ErrorIs(t, err, ErrNotMergeable)
		require.Equal(t, before.Hash, provHead(t, bare, "main").Hash)
	})

	t.Run("a proposal for a missing base is ErrNotFound", func(t *testing.T) {
		t.Parallel()
		bare := provBareRepo(t)
		_, err := provGitProvider(bare).Propose(ctx, "release", head, prodChange, "", "")
		require.ErrorIs(t, err, ErrNotFound)
	})
}

func TestNewProvider(t *testing.T) {
	t.Setenv("IDP_GIT_TOKEN", "")
	t.Setenv("GITHUB_TOKEN", "")
	t.Setenv("IDP_GITHUB_APP_ID", "")
	p, err := NewProvider(provRepoConfig("git", "file:///tmp/x.git", ""))
	require.NoError(t, err)
	require.IsType(t, &gitProvider{}, p)

	_, err = NewProvider(provRepoConfig("github", "https://github.com/acme/platform.git", "acme/platform"))
	require.ErrorIs(t, err, ErrAuth, "no credentials in the environment")

	t.Setenv("GITHUB_TOKEN", "ghp_testtoken")
	p, err = NewProvider(provRepoConfig("github", "https://github.com/acme/platform.git", ""))
	require.NoError(t, err)
	gh := p.(*githubProvider)
	require.Equal(t, []string{"acme", "platform"}, []string{gh.owner, gh.repo}, "owner/name derived from the URL")

	_, err = NewProvider(provRepoConfig("gitlab", "https://gitlab.com/x/y", ""))
	require.ErrorContains(t, err, "unknown git provider")
}

func provRepoConfig(provider, url, slug string) config.Repository {
	return config.Repository{URL: url, Branch: "main", Provider: provider, GitHub: slug}
}
