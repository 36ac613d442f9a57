package github

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/go-github/v62/github"

	"github.com/alexpermiakov/idp/activities/git"
)

func (w clientWrapper) ListDeployments(ctx context.Context, owner, repo string, opts *github.DeploymentsListOptions) ([]*github.Deployment, *github.Response, error) {
	return w.c.Repositories.ListDeployments(ctx, owner, repo, opts)
}

func (w clientWrapper) CreateDeployment(ctx context.Context, owner, repo string, req *github.DeploymentRequest) (*github.Deployment, *github.Response, error) {
	return w.c.Repositories.CreateDeployment(ctx, owner, repo, req)
}

func (w clientWrapper) CreateDeploymentStatus(ctx context.Context, owner, repo string, id int64, req *github.DeploymentStatusRequest) (*github.DeploymentStatus, *github.Response, error) {
	return w.c.Repositories.CreateDeploymentStatus(ctx, owner, repo, id, req)
}

// deployTask is the task of every deployment idp creates, so its own are told apart from
// those of other tools deploying to the same environments.
const deployTask = "deploy:idp"

// deployPayload is what a deployment carries: what was deployed and by which run.
type deployPayload struct {
	WorkflowID string `json:"workflowId"`
	Service    string `json:"service"`
	Tag        string `json:"tag,omitempty"`
	Digest     string `json:"digest,omitempty"`
	Image      string `json:"image,omitempty"`
}

// SetDeploymentStatus implements git.Deployer.
func (p *provider) SetDeploymentStatus(ctx context.Context, d git.Deployment, state, description string) (int64, error) {
	var id int64
	err := p.retry.Do(ctx, func() error {
		var err error
		if id, err = p.deployment(ctx, d); err != nil {
			return err
		}
		_, _, err = p.client.CreateDeploymentStatus(ctx, p.owner, p.repo, id, &github.DeploymentStatusRequest{
			State: github.String(state), Description: github.String(truncate(description, 140)), Environment: github.String(d.Env)})
		return p.classify(err, "setting deployment %d to %s", id, state)
	})
	return id, err
}

// deployment finds the deployment of d (same environment, commit and run) or creates it.
func (p *provider) deployment(ctx context.Context, d git.Deployment) (int64, error) {
	opts := &github.DeploymentsListOptions{SHA: d.Commit, Environment: d.Env, Task: deployTask, ListOptions: github.ListOptions{PerPage: 100}}
	ds, _, err := p.client.ListDeployments(ctx, p.owner, p.repo, opts)
	if err != nil {
		return 0, p.classify(err, "listing the %s deployments of %s", d.Env, d.Commit)
	}
	for _, dep := range ds {
		var pl deployPayload
		if json.Unmarshal(dep.Payload, &pl) == nil && pl.WorkflowID == d.WorkflowID {
			return dep.GetID(), nil
		}
	}
	dep, _, err := p.client.CreateDeployment(ctx, p.owner, p.repo, &github.DeploymentRequest{
		Ref: github.String(d.Commit), Task: github.String(deployTask), Environment: github.String(d.Env),
		AutoMerge: github.Bool(false), RequiredContexts: &[]string{},
		Description: github.String(truncate(fmt.Sprintf("%s %s by %s", d.Service, d.Tag, d.WorkflowID), 140)),
		Payload:     deployPayload{WorkflowID: d.WorkflowID, Service: d.Service, Tag: d.Tag, Digest: d.Digest, Image: d.Image}})
	if err != nil {
		return 0, p.classify(err, "creating the %s deployment of %s", d.Env, d.Commit)
	}
	return dep.GetID(), nil
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
