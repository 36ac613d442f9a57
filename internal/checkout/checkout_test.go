package checkout

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// gitRepo is a real repository on disk that tests commit to with the git CLI.
type gitRepo struct {
	t   *testing.T
	dir string
}

func newGitRepo(t *testing.T) *gitRepo {
	r := &gitRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.dir, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(r.t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// commit writes one file and commits it, returning the commit.
func (r *gitRepo) commit(path, content string) string {
	r.t.Helper()
	require.NoError(r.t, os.MkdirAll(filepath.Dir(filepath.Join(r.dir, path)), 0o755))
	require.NoError(r.t, os.WriteFile(filepath.Join(r.dir, path), []byte(content), 0o644))
	r.git("add", path)
	r.git("commit", "-q", "-m", "change "+path)
	return r.git("rev-parse", "HEAD")
}

func TestLineage(t *testing.T) {
	r := newGitRepo(t)
	const manifest = "argocd/applications/dev/time-service.yaml"
	ours := r.commit(manifest, "image: ours\n")
	other := r.commit("argocd/applications/dev/version-service.yaml", "image: theirs\n")
	newer := r.commit(manifest, "image: newer\n")
	r.git("checkout", "-q", "-b", "side", ours+"~0")
	r.git("reset", "-q", "--hard", ours)
	r.git("commit", "-q", "--allow-empty", "-m", "side")
	side := r.git("rev-parse", "HEAD")
	r.git("checkout", "-q", "main")
	repo := Repo{URL: r.dir}

	for _, tc := range []struct {
		name            string
		ancestor, later string
		descends        bool
		file            string
	}{
		{"the same commit", ours, ours, true, "image: ours\n"},
		{"a later commit that keeps our change", ours, other, true, "image: ours\n"},
		{"a later commit that replaced it", ours, newer, true, "image: newer\n"},
		{"an older commit", other, ours, false, "image: ours\n"},
		{"a commit on another line", other, side, false, "image: ours\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := repo.Lineage(context.Background(), tc.ancestor, tc.later, manifest)
			require.NoError(t, err)
			require.Equal(t, tc.descends, got.Descends)
			require.Equal(t, tc.file, string(got.File))
		})
	}

	got, err := repo.Lineage(context.Background(), ours, other, "no/such/file.yaml")
	require.NoError(t, err)
	require.True(t, got.Descends)
	require.Nil(t, got.File, "a missing file is nil, not an error")

	_, err = repo.Lineage(context.Background(), ours, strings.Repeat("0", 40), manifest)
	require.ErrorIs(t, err, ErrUnknownCommit)
}

// The health waits share one copy of the remote: a commit pushed after it was made is fetched
// when asked about; commits it holds are answered without the remote (here moved away), by
// many waits at once.
func TestLineageSharesOneCopy(t *testing.T) {
	r := newGitRepo(t)
	const manifest = "argocd/applications/dev/time-service.yaml"
	ours := r.commit(manifest, "image: ours\n")
	repo := Repo{URL: r.dir}
	_, err := repo.Lineage(context.Background(), ours, ours, manifest)
	require.NoError(t, err)
	later := r.commit("argocd/applications/dev/version-service.yaml", "image: theirs\n")
	got, err := repo.Lineage(context.Background(), ours, later, manifest)
	require.NoError(t, err, "a commit pushed since is fetched")
	require.True(t, got.Descends)

	moved := r.dir + "-away"
	require.NoError(t, os.Rename(r.dir, moved))
	t.Cleanup(func() { _ = os.Rename(moved, r.dir) })
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := repo.Lineage(context.Background(), ours, later, manifest)
			if err == nil && (!got.Descends || string(got.File) != "image: ours\n") {
				err = fmt.Errorf("wrong answer: %+v", got)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "known commits need no fetch")
	}
	_, err = repo.Lineage(context.Background(), ours, strings.Repeat("1", 40), manifest)
	require.Error(t, err, "an unknown commit needs the remote, which is away")
}
