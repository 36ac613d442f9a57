package github

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
)

// TestDeploymentStatuses drives RecordDeployment through a promotion that rolls back, against
// the httptest GitHub: our deployment goes in_progress → failure → inactive, the rollback's
// in_progress → success; a status post that fails once is retried without a second
// deployment, and a repeated call finds the run's deployment instead of creating one.
func TestDeploymentStatuses(t *testing.T) {
	f := provNewFakeGitHub(t)
	a := &git.Activities{Provider: provGitHubProvider(t, f), Branch: "main"}
	f.commitFile("main", "argocd/applications/staging/time-service.yaml", "v1", "promote v1.2.4")
	ours := f.branches["main"]
	f.commitFile("main", "argocd/applications/staging/time-service.yaml", "v0", "roll back")
	rollback := f.branches["main"]
	run := "promote-time-service-v1.2.4"
	dep := git.Deployment{Env: "staging", Commit: ours, WorkflowID: run, Service: "time-service", Tag: "v1.2.4",
		Digest: "sha256:aaaa", Image: "idp/localtime:v1.2.4@sha256:aaaa"}
	back := git.Deployment{Env: "staging", Commit: rollback, WorkflowID: run, Service: "time-service", Tag: "v1.2.3", Image: "idp/localtime:v1.2.3@sha256:bbbb"}

	failed := false
	f.intercept = func(w http.ResponseWriter, _ *http.Request, route string) bool {
		if route == "POST deployment status" && !failed {
			failed = true
			provJSON(w, http.StatusBadGateway, map[string]any{"message": "Server Error"})
			return true
		}
		return false
	}
	ctx := context.Background()
	for _, step := range []struct {
		d     git.Deployment
		state string
	}{{dep, git.DeployInProgress}, {dep, git.DeployFailure}, {back, git.DeployInProgress}, {back, git.DeploySuccess}, {dep, git.DeployInactive}} {
		out, err := a.RecordDeployment(ctx, git.DeploymentInput{Deployment: step.d, State: step.state, Description: "step " + step.state})
		require.NoError(t, err, step.state)
		require.NotZero(t, out.ID)
	}
	require.True(t, failed)

	ds := f.deployments()
	require.Len(t, ds, 2, "one deployment per commit of the run, whatever the retries")
	require.Equal(t, []any{ours, ours, "staging", "deploy:idp"}, []any{ds[0].sha, ds[0].ref, ds[0].env, ds[0].task})
	require.Equal(t, []string{"in_progress", "failure", "inactive"}, ds[0].statuses)
	require.Equal(t, []string{"staging", "staging", "staging"}, ds[0].statusEnvs)
	require.Equal(t, []string{"in_progress", "success"}, ds[1].statuses)
	require.Equal(t, rollback, ds[1].sha)
	require.NotNil(t, ds[0].autoMerge)
	require.False(t, *ds[0].autoMerge)
	require.NotNil(t, ds[0].requiredContexts)
	require.Empty(t, *ds[0].requiredContexts)
	var pl map[string]string
	require.NoError(t, json.Unmarshal(ds[0].payload, &pl))
	require.Equal(t, map[string]string{"workflowId": run, "service": "time-service", "tag": "v1.2.4", "digest": "sha256:aaaa",
		"image": "idp/localtime:v1.2.4@sha256:aaaa"}, pl)

	// Another run deploying the same commit gets its own deployment.
	other := dep
	other.WorkflowID = "promote-time-service-v1.2.4-again"
	_, err := a.RecordDeployment(ctx, git.DeploymentInput{Deployment: other, State: git.DeployInProgress})
	require.NoError(t, err)
	require.Len(t, f.deployments(), 3)

	_, err = a.RecordDeployment(ctx, git.DeploymentInput{Deployment: dep, State: "done"})
	require.ErrorContains(t, err, `unknown deployment state "done"`)
}

// TestDeploymentsNeedTheProvider: plain Git records nothing and says so with a zero ID.
func TestDeploymentsNeedTheProvider(t *testing.T) {
	a := &git.Activities{Provider: git.Unavailable(nil), Branch: "main"}
	out, err := a.RecordDeployment(context.Background(), git.DeploymentInput{State: git.DeployInProgress})
	require.NoError(t, err)
	require.Zero(t, out.ID)
}
