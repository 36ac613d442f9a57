// Package platform answers what a run needs to know about the platform before it starts:
// the commit it works on and the environment's policies, read once and recorded in history.
package platform

import (
	"context"
	"errors"
	"time"

	"github.com/alexpermiakov/idp/activities/gitops"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// Activities hold the worker's configuration.
type Activities struct {
	Config *config.Config
}

// DescribeInput names the environment a run is about.
type DescribeInput struct {
	Env string `json:"env"`
}

// DescribeOutput is the run's snapshot of the platform: the commit and the env's policies.
type DescribeOutput struct {
	Commit       string          `json:"commit"`
	AccountID    string          `json:"accountId"`
	StateBucket  string          `json:"stateBucket"`
	GitHubRole   string          `json:"githubRole"`
	GrantPull    bool            `json:"grantPull"`
	PlanApproval config.Approval `json:"planApproval"`
	// ArgoCDTimeout bounds the wait for Argo CD to report everything Synced and Healthy.
	ArgoCDTimeout time.Duration `json:"argocdTimeout"`
	ArgoCDVersion string        `json:"argocdVersion"`
}

// Describe resolves the platform branch to a commit and returns the env's bootstrap policy.
func (a *Activities) Describe(ctx context.Context, in DescribeInput) (DescribeOutput, error) {
	env, err := a.Config.Env(in.Env)
	if err != nil {
		return DescribeOutput{}, fail.Wrap(fail.Config, err, "idp.yaml")
	}
	commit, err := gitops.ResolveCommit(ctx, a.Config.Repository.URL, a.Config.Repository.Branch)
	if errors.Is(err, gitops.ErrUnknownBranch) {
		return DescribeOutput{}, fail.Wrap(fail.Config, err, "repository.branch in idp.yaml")
	}
	if err != nil {
		return DescribeOutput{}, err
	}
	return DescribeOutput{Commit: commit, AccountID: env.AWS.AccountID, StateBucket: env.StateBucket,
		GitHubRole: env.GitHubRole, GrantPull: a.Config.Tooling.GrantPullEnabled(),
		PlanApproval: env.Bootstrap.PlanApproval, ArgoCDTimeout: env.ArgoCD.Timeout.Std(), ArgoCDVersion: env.ArgoCD.Version}, nil
}
