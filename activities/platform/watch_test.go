package platform

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/imagewatch"
	"github.com/alexpermiakov/idp/internal/policy"
)

func TestPlanWatchReadsWhatEntryEnvsRun(t *testing.T) {
	a, _ := activities(t, "main")
	dir := a.Repo.URL
	path := policy.ManifestPath("dev", "time-service")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(path)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, path), []byte("app:\n  image: registry/idp/localtime:sha-2222222@sha256:22\n"), 0o644))
	for _, args := range [][]string{{"add", path}, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "app"}} {
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	images := []imagewatch.Image{{Tag: "v1.0.0", Digest: "sha256:10"}, {Tag: "sha-2222222", Digest: "sha256:22"}, {Tag: "sha-1111111", Digest: "sha256:11"}}
	out, err := a.PlanWatch(context.Background(), PlanWatchInput{Service: "time-service", Images: images})
	require.NoError(t, err)
	require.Len(t, out.Decisions, 2)
	require.Equal(t, "dev", out.Decisions[0].Env)
	require.Empty(t, out.Decisions[0].Push.Tag, "dev runs the newest sha already: %s", out.Decisions[0].Reason)
	require.Equal(t, "staging", out.Decisions[1].Env)
	require.Equal(t, imagewatch.Push{Service: "time-service", Tag: "v1.0.0", Digest: "sha256:10", Entry: "staging", Last: "staging"},
		out.Decisions[1].Push, "staging has no manifest for the service: it runs nothing yet")

	images = append([]imagewatch.Image{{Tag: "sha-3333333", Digest: "sha256:33"}}, images...)
	out, err = a.PlanWatch(context.Background(), PlanWatchInput{Service: "time-service", Images: images})
	require.NoError(t, err)
	require.Equal(t, "sha-3333333", out.Decisions[0].Push.Tag)
}

func TestTagOf(t *testing.T) {
	for image, want := range map[string]string{
		"864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:v1.2.3@sha256:ab": "v1.2.3",
		"registry:5000/idp/localtime:sha-1a2b3c4":                                     "sha-1a2b3c4",
		"registry:5000/idp/localtime":                                                 "",
		"idp/localtime@sha256:ab":                                                     "",
	} {
		require.Equal(t, want, tagOf(image), image)
	}
}
