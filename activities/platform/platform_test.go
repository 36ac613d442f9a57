package platform

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/checkout"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/policy"
)

// repoWithCommit makes a real Git repository with one commit on main and returns its path and
// the commit.
func repoWithCommit(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "one"},
	} {
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	require.NoError(t, err)
	return dir, strings.TrimSpace(string(out))
}

func activities(t *testing.T, branch string) (*Activities, string) {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "..", "idp.yaml"))
	require.NoError(t, err)
	dir, commit := repoWithCommit(t)
	cfg.Repository.URL, cfg.Repository.Branch = dir, branch
	return &Activities{Config: cfg, Repo: checkout.Repo{URL: dir, CacheDir: t.TempDir()}}, commit
}

func TestDescribeTakesTheSnapshot(t *testing.T) {
	a, commit := activities(t, "main")
	out, err := a.Describe(context.Background(), DescribeInput{Env: "staging"})
	require.NoError(t, err)
	require.Equal(t, commit, out.Commit)
	require.Equal(t, "staging", out.Snapshot.Env.Name)
	require.Equal(t, a.Config.Repository, out.Snapshot.Repository)
	require.Equal(t, a.Config.Tooling.AWS, out.Snapshot.Tooling.AWS)
	require.Equal(t, out.Snapshot.Env.StateBucket, out.StateBucket)

	// Later changes to the worker's idp.yaml do not reach a snapshot already taken.
	a.Config.Environments[1].StateBucket = "changed"
	require.NotEqual(t, "changed", out.Snapshot.Env.StateBucket)
}

func TestDescribeBadInputIsNotRetried(t *testing.T) {
	for name, tc := range map[string]struct{ env, branch string }{
		"unknown env":    {"qa", "main"},
		"unknown branch": {"dev", "trunk"},
	} {
		t.Run(name, func(t *testing.T) {
			a, _ := activities(t, tc.branch)
			_, err := a.Describe(context.Background(), DescribeInput{Env: tc.env})
			require.True(t, fail.Is(err, fail.Config), "%v", err)
		})
	}
}

func TestPlanPromotion(t *testing.T) {
	a, _ := activities(t, "main")
	out, err := a.PlanPromotion(context.Background(), policy.Input{Service: "time-service", Tag: "v1.2.3", To: "prod"})
	require.NoError(t, err)
	require.Equal(t, []string{"staging", "prod"}, []string{out.Envs[0].Name, out.Envs[1].Name})
	require.Equal(t, a.Config.Tooling.AWS, out.Tooling.AWS)

	_, err = a.PlanPromotion(context.Background(), policy.Input{Service: "time-service", Tag: "latest"})
	require.True(t, fail.Is(err, fail.Config), "%v", err)
}

func TestCheckFreezeReadsTheLiveConfig(t *testing.T) {
	a, _ := activities(t, "main")
	out, err := a.CheckFreeze(context.Background(), FreezeInput{Env: "prod"})
	require.NoError(t, err)
	require.False(t, out.Frozen)
	for i := range a.Config.Environments {
		if a.Config.Environments[i].Name == "prod" {
			a.Config.Environments[i].Promotion.Freeze = true
		}
	}
	out, err = a.CheckFreeze(context.Background(), FreezeInput{Env: "prod"})
	require.NoError(t, err)
	require.True(t, out.Frozen, "a freeze declared after the run started still stops it")
}

func TestCurrentImage(t *testing.T) {
	a, _ := activities(t, "main")
	dir := a.Repo.URL
	path := policy.ManifestPath("dev", "time-service")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(path)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, path), []byte("app:\n  image: registry/idp/localtime:sha-1111111\n"), 0o644))
	for _, args := range [][]string{{"add", path}, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "app"}} {
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	out, err := a.CurrentImage(context.Background(), ImageInput{Env: "dev", Service: "time-service"})
	require.NoError(t, err)
	require.Equal(t, "registry/idp/localtime:sha-1111111", out.Image)
	require.Len(t, out.Commit, 40)

	_, err = a.CurrentImage(context.Background(), ImageInput{Env: "dev", Service: "version-service"})
	require.True(t, fail.Is(err, fail.Config), "a service without a manifest is a config error: %v", err)
}

func TestApprovalKeysResolveGroupsFromTheCurrentConfig(t *testing.T) {
	a, _ := activities(t, "main")
	out, err := a.ApprovalKeys(context.Background(), ApprovalKeysInput{Env: "prod", Approvers: []string{"@release-managers", "carol"}})
	require.NoError(t, err)
	require.Equal(t, []string{"alice", "bob", "carol"}, out.Approvers)
	require.Len(t, out.People, 3)
	require.Equal(t, a.Config.People["bob"].Keys, out.People[1].Keys)
	require.Empty(t, out.GitHub)

	// A rotated key counts at the next gate.
	a.Config.People["bob"] = config.Person{Keys: []string{"ssh-ed25519 NEW"}}
	// Every mapped login comes along, approver or not, so a review is checked like a decision.
	a.Config.People["dave"] = config.Person{GitHub: "Dave-GH"}
	out, err = a.ApprovalKeys(context.Background(), ApprovalKeysInput{Env: "prod", Approvers: []string{"bob"}})
	require.NoError(t, err)
	require.Equal(t, []PersonKeys{{Name: "bob", Keys: []string{"ssh-ed25519 NEW"}}}, out.People)
	require.Equal(t, []config.GitHubLogin{{Login: "dave-gh", Person: "dave"}}, out.GitHub)
}

func TestRequesterKeysReadTheCurrentConfig(t *testing.T) {
	a, _ := activities(t, "main")
	out, err := a.RequesterKeys(context.Background(), RequesterKeysInput{Name: " Alice "})
	require.NoError(t, err)
	require.Equal(t, PersonKeys{Name: "alice", Keys: a.Config.People["alice"].Keys}, out)

	out, err = a.RequesterKeys(context.Background(), RequesterKeysInput{Name: "ci"})
	require.NoError(t, err)
	require.Equal(t, PersonKeys{Name: "ci", Keys: []string{}}, out, "an unknown person has no keys")
}
