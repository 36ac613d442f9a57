package github

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/github/githubtest"
	"github.com/alexpermiakov/idp/activities/git/internal/gittest"
)

// TestDeploymentStatuses drives RecordDeployment through a promotion that rolls back, against
// the httptest GitHub: our deployment goes in_progress → failure → inactive, the rollback's
// in_progress → success; a status post that fails once is retried without a second
// deployment, and a repeated call finds the run's deployment instead of creating one.
func TestDeploymentStatuses(t *testing.T) {
	f := githubtest.New(t, gittest.Seed)
	a := &git.Activities{Provider: provGitHubProvider(t, f), Branch: "main"}
	f.CommitFile("main", "argocd/applications/staging/time-service.yaml", "v1", "promote v1.2.4")
	ours := f.Branches["main"]
	f.CommitFile("main", "argocd/applications/staging/time-service.yaml", "v0", "roll back")
	rollback := f.Branches["main"]
	run := "promote-time-service-v1.2.4"
	dep := git.Deployment{Env: "staging", Commit: ours, WorkflowID: run, Service: "time-service", Tag: "v1.2.4",
		Digest: "sha256:aaaa", Image: "idp/localtime:v1.2.4@sha256:aaaa"}
	back := git.Deployment{Env: "staging", Commit: rollback, WorkflowID: run, Service: "time-service", Tag: "v1.2.3", Image: "idp/localtime:v1.2.3@sha256:bbbb"}

	failed := false
	f.Intercept = func(w http.ResponseWriter, _ *http.Request, route string) bool {
		if route == "POST deployment status" && !failed {
			failed = true
			githubtest.WriteJSON(w, http.StatusBadGateway, map[string]any{"message": "Server Error"})
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

	ds := f.Deployments()
	require.Len(t, ds, 2, "one deployment per commit of the run, whatever the retries")
	require.Equal(t, []any{ours, ours, "staging", "deploy:idp"}, []any{ds[0].SHA, ds[0].Ref, ds[0].Env, ds[0].Task})
	require.Equal(t, []string{"in_progress", "failure", "inactive"}, ds[0].Statuses)
	require.Equal(t, []string{"staging", "staging", "staging"}, ds[0].StatusEnvs)
	require.Equal(t, []string{"in_progress", "success"}, ds[1].Statuses)
	require.Equal(t, rollback, ds[1].SHA)
	require.NotNil(t, ds[0].AutoMerge)
	require.False(t, *ds[0].AutoMerge)
	require.NotNil(t, ds[0].RequiredContexts)
	require.Empty(t, *ds[0].RequiredContexts)
	var pl map[string]string
	require.NoError(t, json.Unmarshal(ds[0].Payload, &pl))
	require.Equal(t, map[string]string{"workflowId": run, "service": "time-service", "tag": "v1.2.4", "digest": "sha256:aaaa",
		"image": "idp/localtime:v1.2.4@sha256:aaaa"}, pl)

	// Another run deploying the same commit gets its own deployment.
	other := dep
	other.WorkflowID = "promote-time-service-v1.2.4-again"
	_, err := a.RecordDeployment(ctx, git.DeploymentInput{Deployment: other, State: git.DeployInProgress})
	require.NoError(t, err)
	require.Len(t, f.Deployments(), 3)

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
