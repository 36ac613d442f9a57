package workflows

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

// badDigest is the digest of the tag "broken": an image that never becomes Healthy.
const badDigest = "sha256:badbadbadbadbadbadbadbadbadbadbadbadbadbadbadbadbadbadbadbadbadb"

// TestTrainsOnADevServer runs, against real Lock and Controls workflows, two trains that name
// the same services in opposite orders and a single promotion of one of them, all at once:
// none deadlocks, and no run writes between a train's two writes. Then a train with one broken image
// rolls back both services in staging.
func TestTrainsOnADevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Temporal dev server; not part of -short")
	}
	c := devServer(t)
	var (
		mu     sync.Mutex
		writes []string
	)
	stubs := promoteStubs()
	stubs["PlanPromotion"] = func(_ context.Context, in policy.Input) (platform.PromotionOutput, error) {
		e := staging()
		e.App, e.Soak = in.Service+"-staging", 0
		return platform.PromotionOutput{Envs: []policy.Env{e}}, nil
	}
	stubs["ResolveImage"] = func(_ context.Context, in aws.ResolveInput) (aws.ResolveOutput, error) {
		d := "sha256:" + strings.Repeat(string(in.Tag[len(in.Tag)-1]), 64)
		if in.Tag == "broken" {
			d = badDigest
		}
		return aws.ResolveOutput{Image: "ecr/" + in.Service + ":" + in.Tag, Digest: d}, nil
	}
	stubs["CurrentImage"] = func(_ context.Context, in platform.ImageInput) (platform.ImageOutput, error) {
		return platform.ImageOutput{Image: "ecr/" + in.Service + ":old"}, nil
	}
	stubs["WriteImage"] = func(_ context.Context, in git.WriteImageInput) (git.WriteImageOutput, error) {
		mu.Lock()
		defer mu.Unlock()
		w := in.Service + " " + in.Image
		if in.Expect != "" {
			w += " over " + in.Expect
		}
		writes = append(writes, w)
		return git.WriteImageOutput{Commit: "c0ffee", Changed: true}, nil
	}
	stubs["WaitApp"] = func(_ context.Context, in argocd.WaitAppInput) (argocd.WaitAppOutput, error) {
		if strings.HasSuffix(in.Image, "@"+badDigest) {
			return argocd.WaitAppOutput{}, fail.New(argocd.ErrDegraded, "%s is Degraded", in.App)
		}
		time.Sleep(200 * time.Millisecond) // long enough for the runs to want the same locks at once
		return argocd.WaitAppOutput{Status: argocd.AppStatus{Sync: "Synced", Health: "Healthy"}}, nil
	}
	lockWorker(t, c, func(w worker.Worker) {
		registerStubs(w, stubs, nil)
		w.RegisterWorkflowWithOptions(Train, workflowOptions(api.TrainWorkflowName))
	})
	ctx := context.Background()
	startTrain := func(name string, members ...api.TrainMember) client.WorkflowRun {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: api.TrainID(name), TaskQueue: api.TaskQueue},
			api.TrainWorkflowName, api.TrainInput{Name: name, Members: members, Requester: "alice"})
		require.NoError(t, err)
		return run
	}
	runs := []client.WorkflowRun{
		startTrain("one", api.TrainMember{Service: "time-service", Tag: "v1.0.1"}, api.TrainMember{Service: "version-service", Tag: "v2.0.1"}),
		startTrain("two", api.TrainMember{Service: "version-service", Tag: "v2.0.2"}, api.TrainMember{Service: "time-service", Tag: "v1.0.2"}),
	}
	single, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: api.PromoteID("version-service", "v2.0.3"), TaskQueue: api.TaskQueue},
		api.PromoteWorkflowName, api.PromoteInput{Service: "version-service", Tag: "v2.0.3", To: "staging", Requester: "alice"})
	require.NoError(t, err)
	runs = append(runs, single)
	for _, run := range runs {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		var st api.Status
		require.NoError(t, run.Get(wctx, &st), run.GetID())
		cancel()
		require.Equal(t, api.StageDone, st.Stage, run.GetID())
	}
	mu.Lock()
	require.Len(t, writes, 5, "%v", writes)
	// Each train holds both locks while it writes, so its two writes are never split by
	// another run's: the tags' last digits read e.g. "11322".
	var seq strings.Builder
	for _, w := range writes {
		tag := strings.Split(strings.Split(w, ":")[1], "@")[0]
		seq.WriteByte(tag[len(tag)-1])
	}
	for _, train := range []string{"11", "22"} {
		require.Contains(t, seq.String(), train, "%v", writes)
	}
	writes = nil
	mu.Unlock()

	broken := startTrain("three", api.TrainMember{Service: "time-service", Tag: "v1.0.4"}, api.TrainMember{Service: "version-service", Tag: "broken"})
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	err = broken.Get(wctx, nil)
	require.True(t, fail.Is(err, api.ErrRolledBack), "%v", err)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{
		"time-service ecr/time-service:v1.0.4@sha256:" + strings.Repeat("4", 64),
		"version-service ecr/version-service:broken@" + badDigest,
		"time-service ecr/time-service:old over ecr/time-service:v1.0.4@sha256:" + strings.Repeat("4", 64),
		"version-service ecr/version-service:old over ecr/version-service:broken@" + badDigest,
	}, writes)
}
