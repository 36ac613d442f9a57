package git

import (
	"context"
	"slices"

	"github.com/alexpermiakov/idp/internal/fail"
)

// Deployment is one deployment of a commit to an env by one run, as GitHub's Deployments API
// records it (the repository's Environments page shows what runs where from them).
type Deployment struct {
	// Env is the GitHub environment: the idp env's name.
	Env string `json:"env"`
	// Commit is the platform repository's commit that carries the image (the deployment's ref).
	Commit string `json:"commit"`
	// WorkflowID is the run that deploys; with Env and Commit it identifies the deployment.
	WorkflowID string `json:"workflowId"`
	Service    string `json:"service"`
	Tag        string `json:"tag,omitempty"`
	Digest     string `json:"digest,omitempty"`
	Image      string `json:"image,omitempty"`
}

// Deployment states idp sets.
const (
	DeployInProgress = "in_progress"
	DeploySuccess    = "success"
	DeployFailure    = "failure"
	DeployInactive   = "inactive"
)

// Deployer is implemented by providers that record deployments (GitHub).
type Deployer interface {
	// SetDeploymentStatus adds a status with state and description to d's deployment, which it
	// first looks for (same env, commit and run) and creates only when there is none, so a
	// retry never makes a second one. It returns the deployment's ID.
	SetDeploymentStatus(ctx context.Context, d Deployment, state, description string) (int64, error)
}

// DeploymentInput asks for a deployment's new state.
type DeploymentInput struct {
	Deployment  Deployment `json:"deployment"`
	State       string     `json:"state"`
	Description string     `json:"description,omitempty"`
}

// DeploymentOutput is the deployment's ID; zero when the provider records no deployments.
type DeploymentOutput struct {
	ID int64 `json:"id"`
}

// RecordDeployment sets the state of a run's deployment of a commit to an env, on providers
// that record deployments; with plain Git it does nothing.
func (a *Activities) RecordDeployment(ctx context.Context, in DeploymentInput) (DeploymentOutput, error) {
	d, ok := a.Provider.(Deployer)
	if !ok {
		return DeploymentOutput{}, nil
	}
	if !slices.Contains([]string{DeployInProgress, DeploySuccess, DeployFailure, DeployInactive}, in.State) {
		return DeploymentOutput{}, fail.New(fail.Config, "unknown deployment state %q (want %s, %s, %s or %s)", in.State,
			DeployInProgress, DeploySuccess, DeployFailure, DeployInactive)
	}
	id, err := d.SetDeploymentStatus(ctx, in.Deployment, in.State, in.Description)
	if err != nil {
		return DeploymentOutput{}, classify(err, "recording the %s deployment of %s", in.Deployment.Env, in.Deployment.Commit)
	}
	return DeploymentOutput{ID: id}, nil
}
