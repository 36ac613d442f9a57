package platform

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/alexpermiakov/idp/internal/checkout"
	"github.com/alexpermiakov/idp/internal/fail"
)

// PullHeads is what a preview needs of the Git provider: where a pull request's head is.
type PullHeads interface {
	// PullHead returns the pull request's head as a ref of the platform repository: its branch,
	// or refs/pull/<N>/head when the branch lives in a fork. A pull request that does not
	// exist is an error wrapping ErrNoPull.
	PullHead(ctx context.Context, number int) (string, error)
}

// ErrNoPull means the provider knows no such pull request.
var ErrNoPull = errors.New("no such pull request")

// PullRef is the ref a plain Git remote holds pull request n's head under, as GitHub, GitLab's
// merge-request mirrors and most Git servers do.
func PullRef(n int) string { return "refs/pull/" + strconv.Itoa(n) + "/head" }

// describePreview is Describe for pull request in.PR's preview of in.Env: the base env's
// snapshot derived for the preview (config.PreviewSnapshot), at the pull request's head
// commit, so the preview runs the pull request's infra/ and argocd/ as well as its services.
func (a *Activities) describePreview(ctx context.Context, in DescribeInput) (DescribeOutput, error) {
	env, err := a.Config.Env(in.Env)
	if err != nil {
		return DescribeOutput{}, fail.Wrap(fail.Config, err, "idp.yaml")
	}
	if in.PR < 0 {
		return DescribeOutput{}, fail.New(fail.Config, "--pr must be a pull request number above 0, got %d", in.PR)
	}
	branch, err := a.pullHead(ctx, in)
	if err != nil && in.HeadOptional && fail.Is(err, fail.Config) {
		branch, err = a.Config.Repository.Branch, nil
	}
	if err != nil {
		return DescribeOutput{}, err
	}
	commit, err := a.Repo.ResolveCommit(ctx, branch)
	if errors.Is(err, checkout.ErrUnknownBranch) && in.HeadOptional {
		branch = a.Config.Repository.Branch
		commit, err = a.headCommit(ctx)
	}
	if errors.Is(err, checkout.ErrUnknownBranch) {
		return DescribeOutput{}, fail.Wrap(fail.Config, err,
			"the head of pull request %d (%s): push it, or name the branch with --branch", in.PR, branch)
	}
	if err != nil {
		return DescribeOutput{}, err
	}
	snap, err := a.Config.PreviewSnapshot(in.Env, in.PR, branch)
	if err != nil {
		return DescribeOutput{}, fail.Wrap(fail.Config, err, "preview of %s", in.Env)
	}
	e := snap.Env
	return DescribeOutput{Snapshot: snap, Commit: commit, AccountID: e.AWS.AccountID, StateBucket: e.StateBucket,
		GitHubRole: e.GitHubRole, GrantPull: a.Config.Tooling.GrantPullEnabled(),
		PlanApproval: env.Bootstrap.PlanApproval, ArgoCDTimeout: e.ArgoCD.Timeout.Std(), ArgoCDVersion: e.ArgoCD.Version}, nil
}

// pullHead is the branch the request names, else the provider's answer, else the plain Git
// convention refs/pull/<N>/head.
func (a *Activities) pullHead(ctx context.Context, in DescribeInput) (string, error) {
	if in.Branch != "" {
		return in.Branch, nil
	}
	if a.Pulls == nil {
		return PullRef(in.PR), nil
	}
	ref, err := a.Pulls.PullHead(ctx, in.PR)
	if errors.Is(err, ErrNoPull) {
		return "", fail.Wrap(fail.Config, err, "pull request %d of %s", in.PR, a.Config.Repository.GitHub)
	}
	if err != nil {
		return "", fmt.Errorf("finding the head of pull request %d: %w", in.PR, err)
	}
	return ref, nil
}
