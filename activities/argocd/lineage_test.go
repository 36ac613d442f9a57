package argocd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/checkout"
	"github.com/alexpermiakov/idp/internal/config"
)

// platformRepo is a real Git repository where a promotion wrote our image, another service's
// promotion landed after it, and a later change replaced our image.
func platformRepo(t *testing.T, path string) (dir, ours, other, replaced string) {
	t.Helper()
	dir = t.TempDir()
	run := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...).CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
		return strings.TrimSpace(string(out))
	}
	write := func(p, content string) string {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644))
		run("add", p)
		run("commit", "-q", "-m", "write "+p)
		return run("rev-parse", "HEAD")
	}
	run("init", "-q", "-b", "main")
	write("README.md", "platform\n")
	ours = write(path, "app:\n  image: registry/idp/localtime:v1.2.3\n")
	other = write("argocd/applications/prod/version-service.yaml", "app:\n  image: registry/idp/version:v2.0.0\n")
	replaced = write(path, "app:\n  image: registry/idp/localtime:v1.2.4\n")
	return dir, ours, other, replaced
}

// TestWaitAppAcceptsALaterCommitThatKeepsOurImage is the concurrent-promotions case: another
// service's commit lands before Argo CD syncs ours. The app synced at that later commit runs
// our image, so our step is verified; it is neither a timeout nor a reason to roll back.
func TestWaitAppAcceptsALaterCommitThatKeepsOurImage(t *testing.T) {
	const path = "argocd/applications/prod/time-service.yaml"
	dir, ours, other, replaced := platformRepo(t, path)
	a := &Activities{repo: checkout.Repo{URL: dir}}
	in := WaitAppInput{Snapshot: config.Snapshot{Env: config.Environment{Name: "prod"}}, App: "time-service-prod", Commit: ours,
		Since: time.Now().Add(-time.Minute), Timeout: 700 * time.Millisecond, Image: "registry/idp/localtime:v1.2.3", ManifestPath: path}

	for _, tc := range []struct {
		name    string
		at      string
		errType string
	}{
		{"at our commit", ours, ""},
		{"at a later commit that keeps our image", other, ""},
		{"at a later commit that replaced our image", replaced, ErrReplaced},
		{"at an earlier commit", strings.Repeat("a", 40), ErrNotApplied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newFakeKube()
			seed(k, appAt(tc.at, "Synced", "Healthy", time.Now()))
			_, err := waitApp(context.Background(), k, "argocd", in, a.revisions(in), func(AppStatus) {})
			if tc.errType == "" {
				require.NoError(t, err)
				return
			}
			require.True(t, failIs(err, tc.errType), "want %s, got %v", tc.errType, err)
		})
	}

	// Without the manifest path (the app-of-apps) only the exact commit counts, as before.
	k := newFakeKube()
	seed(k, appAt(other, "Synced", "Healthy", time.Now()))
	exact := in
	exact.ManifestPath = ""
	_, err := waitApp(context.Background(), k, "argocd", exact, a.revisions(exact), func(AppStatus) {})
	require.True(t, failIs(err, ErrNotApplied), "%v", err)
}
