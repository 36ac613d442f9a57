package workflows

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/notify"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestARollbackOnADevServerIsToldAndDeployed promotes a build that turns Degraded in staging,
// on the github provider: the deployment statuses go, in order, ours in_progress → failure,
// the rollback's in_progress → success, ours inactive; the receiver hears rolled_back and
// nothing else (the run's failure is that rollback); the run fails as rolled back.
func TestARollbackOnADevServerIsToldAndDeployed(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Temporal dev server; not part of -short")
	}
	c := devServer(t)
	rcv := newReceiver(t, http.StatusOK)
	pinned := image + "@" + digest // as the stand-in ResolveImage names it
	stg := staging()
	stg.Snapshot.Repository.Provider = "github"
	var (
		mu       sync.Mutex
		statuses []string
	)
	notifyWorkerWith(t, c, map[string]string{"IDP_TEST_JSON": rcv.srv.URL + jsonPath}, map[string]any{
		"WriteImage": func(_ context.Context, in git.WriteImageInput) (git.WriteImageOutput, error) {
			if in.Expect != "" {
				return git.WriteImageOutput{Commit: "c-revert", Changed: true, Previous: image}, nil
			}
			return git.WriteImageOutput{Commit: "c-bad", Changed: true, Previous: oldImg}, nil
		},
		"WaitApp": func(_ context.Context, in argocd.WaitAppInput) (argocd.WaitAppOutput, error) {
			if in.Image == pinned {
				return argocd.WaitAppOutput{}, fail.New(argocd.ErrDegraded, "time-service-staging is Degraded at c-bad")
			}
			return argocd.WaitAppOutput{Status: argocd.AppStatus{Sync: "Synced", Health: "Healthy"}}, nil
		},
		"RecordDeployment": func(_ context.Context, in git.DeploymentInput) (git.DeploymentOutput, error) {
			mu.Lock()
			defer mu.Unlock()
			d := in.Deployment
			require.Equal(t, []string{"staging", "promote-time-service-v7.0.2", "time-service"}, []string{d.Env, d.WorkflowID, d.Service})
			statuses = append(statuses, d.Commit+" "+in.State+" "+d.Image)
			return git.DeploymentOutput{ID: 1}, nil
		},
	}, stg)
	ctx := context.Background()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: api.PromoteID("time-service", "v7.0.2"), TaskQueue: api.TaskQueue},
		api.PromoteWorkflowName, api.PromoteInput{Service: "time-service", Tag: "v7.0.2", To: "staging", Requester: "alice"})
	require.NoError(t, err)
	var st api.Status
	err = run.Get(ctx, &st)
	require.True(t, fail.Is(err, api.ErrRolledBack), "%v %+v", err, st)

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"c-bad in_progress " + pinned, "c-bad failure " + pinned, "c-revert in_progress " + oldImg,
		"c-revert success " + oldImg, "c-bad inactive " + pinned}, statuses)
	evs := rcv.events(t, jsonPath)
	require.Len(t, evs, 1)
	require.Equal(t, []string{notify.RolledBack, "staging"}, []string{evs[0].Type, evs[0].Env})
	require.Contains(t, evs[0].Text, "rolled back to "+oldImg)
}
