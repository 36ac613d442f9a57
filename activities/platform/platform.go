// Package platform answers what a run needs to know about the platform before it starts:
// the commit it works on and the environment's policies, read once and recorded in history.
package platform

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/internal/checkout"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/manifest"
	"github.com/alexpermiakov/idp/internal/policy"
)

// Activities hold the worker's configuration and its way to the platform repository.
type Activities struct {
	Config *config.Config
	Repo   checkout.Repo
	// Pulls finds a pull request's head branch (the GitHub provider); nil for plain Git
	// remotes, where a preview tracks refs/pull/<N>/head unless its request names a branch.
	Pulls PullHeads
}

// DescribeInput names the environment a run is about.
type DescribeInput struct {
	Env string `json:"env"`
	// PR, when above 0, asks for the pull request's preview of Env (preview.go).
	PR int `json:"pr,omitempty"`
	// Branch is the preview's head branch as its request named it; empty: ask the provider.
	Branch string `json:"branch,omitempty"`
	// HeadOptional lets a preview's Describe fall back to the platform branch when the pull
	// request's head is gone (merged and deleted, or closed): a destroy needs the preview's
	// names, which do not depend on its code.
	HeadOptional bool `json:"headOptional,omitempty"`
}

// DescribeOutput is the run's snapshot of the platform: the commit, the env (handed to every
// later activity) and the env's policies.
type DescribeOutput struct {
	Snapshot     config.Snapshot `json:"snapshot"`
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
	if in.PR != 0 {
		return a.describePreview(ctx, in)
	}
	env, err := a.Config.Env(in.Env)
	if err != nil {
		return DescribeOutput{}, fail.Wrap(fail.Config, err, "idp.yaml")
	}
	commit, err := a.headCommit(ctx)
	if err != nil {
		return DescribeOutput{}, err
	}
	snap, err := a.Config.Snapshot(in.Env)
	if err != nil {
		return DescribeOutput{}, fail.Wrap(fail.Config, err, "idp.yaml")
	}
	return DescribeOutput{Snapshot: snap, Commit: commit, AccountID: env.AWS.AccountID, StateBucket: env.StateBucket,
		GitHubRole: env.GitHubRole, GrantPull: a.Config.Tooling.GrantPullEnabled(),
		PlanApproval: env.Bootstrap.PlanApproval, ArgoCDTimeout: env.ArgoCD.Timeout.Std(), ArgoCDVersion: env.ArgoCD.Version}, nil
}

// PromotionOutput is the promotion's path, entry env first.
type PromotionOutput struct {
	Envs []policy.Env `json:"envs"`
	// Tooling is the run's snapshot of the tooling account, where the tag is resolved.
	Tooling config.Tooling `json:"tooling"`
}

// PlanPromotion validates the tag against the entry patterns and returns the envs the
// promotion goes through, each with its policy. Bad input fails at once.
func (a *Activities) PlanPromotion(_ context.Context, in policy.Input) (PromotionOutput, error) {
	envs, err := policy.Path(a.Config, in)
	if err != nil {
		return PromotionOutput{}, fail.Wrap(fail.Config, err, "promote")
	}
	return PromotionOutput{Envs: envs, Tooling: a.Config.Tooling.For(in.Service)}, nil
}

// FreezeInput names an env.
type FreezeInput struct {
	Env string `json:"env"`
}

// FreezeOutput says whether the env is frozen now.
type FreezeOutput struct {
	Frozen bool `json:"frozen"`
}

// CheckFreeze reads the env's freeze from the worker's current idp.yaml, not from the run's
// snapshot: it is a live setting, so a freeze declared after a promotion started still stops
// it at the env's door.
func (a *Activities) CheckFreeze(_ context.Context, in FreezeInput) (FreezeOutput, error) {
	env, err := a.Config.Env(in.Env)
	if err != nil {
		return FreezeOutput{}, fail.Wrap(fail.Config, err, "idp.yaml")
	}
	return FreezeOutput{Frozen: env.Promotion.Freeze}, nil
}

// Signaller starts-or-signals workflows for workflows, which cannot SignalWithStart
// themselves.
type Signaller struct {
	Client client.Client
}

// SignalWithStartInput names a workflow to signal, starting it first when it is not running.
type SignalWithStartInput struct {
	WorkflowID   string `json:"workflowId"`
	WorkflowType string `json:"workflowType"`
	TaskQueue    string `json:"taskQueue"`
	Signal       string `json:"signal"`
	SignalArg    any    `json:"signalArg"`
	StartArg     any    `json:"startArg"`
	// Summary is the started workflow's static summary in the Web UI's list of runs.
	Summary string `json:"summary,omitempty"`
}

// SignalWithStart delivers a signal to a workflow, starting it if needed. Idempotent for the
// receivers idp uses: a lock treats a repeated request from the same owner as one.
func (s *Signaller) SignalWithStart(ctx context.Context, in SignalWithStartInput) error {
	_, err := s.Client.SignalWithStartWorkflow(ctx, in.WorkflowID, in.Signal, in.SignalArg,
		client.StartWorkflowOptions{ID: in.WorkflowID, TaskQueue: in.TaskQueue, StaticSummary: in.Summary}, in.WorkflowType, in.StartArg)
	if err != nil {
		return fmt.Errorf("signal-with-start %s: %w", in.WorkflowID, err)
	}
	return nil
}

// ImageInput names a service's manifest in one env.
type ImageInput struct {
	Env     string `json:"env"`
	Service string `json:"service"`
}

// ImageOutput is the image the manifest pins on the platform branch now, and at which commit.
type ImageOutput struct {
	Image  string `json:"image"`
	Commit string `json:"commit"`
}

// CurrentImage reads the image the env's manifest for the service pins on the platform branch
// now. A promotion records it once, before its first write, as what a rollback restores: read
// again after a retried write it would be the promotion's own image.
func (a *Activities) CurrentImage(ctx context.Context, in ImageInput) (ImageOutput, error) {
	commit, err := a.headCommit(ctx)
	if err != nil {
		return ImageOutput{}, err
	}
	path := policy.ManifestPath(in.Env, in.Service)
	l, err := a.Repo.Lineage(ctx, commit, commit, path)
	if err != nil {
		return ImageOutput{}, err
	}
	if l.File == nil {
		return ImageOutput{}, fail.New(fail.Config, "%s does not exist at %s: add the service's Application for %s first", path, commit, in.Env)
	}
	img, err := manifest.Image(l.File)
	if err != nil {
		return ImageOutput{}, fail.Wrap(fail.Config, err, "%s at %s", path, commit)
	}
	return ImageOutput{Image: img, Commit: commit}, nil
}

// WorkflowRunningInput names a workflow by ID; its current run is the one asked about.
type WorkflowRunningInput struct {
	WorkflowID string `json:"workflowId"`
}

// WorkflowRunningOutput says whether the workflow still runs, and its status ("running",
// "terminated", "timedout", ..., or "not found").
type WorkflowRunningOutput struct {
	Running bool   `json:"running"`
	Status  string `json:"status"`
}

// WorkflowRunning describes the current run of a workflow, so a lock can let go of a holder
// that ended without releasing it. The current run of a chain that continued as new is the
// newest one, so a run that continued as new still counts as running; an ID the server does
// not know counts as gone.
func (s *Signaller) WorkflowRunning(ctx context.Context, in WorkflowRunningInput) (WorkflowRunningOutput, error) {
	desc, err := s.Client.DescribeWorkflow(ctx, in.WorkflowID, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return WorkflowRunningOutput{Status: "not found"}, nil
	}
	if err != nil {
		return WorkflowRunningOutput{}, fmt.Errorf("describing workflow %s: %w", in.WorkflowID, err)
	}
	st := desc.Status
	return WorkflowRunningOutput{
		Running: st == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING || st == enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW,
		Status:  strings.ToLower(st.String()),
	}, nil
}

// ApprovalKeysInput names a gate's env and its approver list as the run's snapshot has it.
type ApprovalKeysInput struct {
	Env       string   `json:"env"`
	Approvers []string `json:"approvers"`
}

// PersonKeys are one person's public key lines.
type PersonKeys struct {
	Name string   `json:"name"`
	Keys []string `json:"keys"`
}

// ApprovalKeysOutput is who may decide at a gate, groups resolved, and their keys.
type ApprovalKeysOutput struct {
	Approvers []string     `json:"approvers"`
	People    []PersonKeys `json:"people"`
	// GitHub maps the GitHub logins of everyone in idp.yaml (approver or not) to their person,
	// so an approving pull request review can be checked like any other approval.
	GitHub []config.GitHubLogin `json:"github,omitempty"`
}

// ApprovalKeys resolves a gate's approvers and reads their keys from the worker's current
// idp.yaml when the gate opens: a rotated or revoked key counts for gates opened after the
// change, and the answer is recorded in history, so replays check against the same keys.
func (a *Activities) ApprovalKeys(_ context.Context, in ApprovalKeysInput) (ApprovalKeysOutput, error) {
	out := ApprovalKeysOutput{Approvers: a.Config.Approvers(in.Approvers), People: []PersonKeys{}, GitHub: a.Config.GitHubLogins()}
	for _, who := range out.Approvers {
		out.People = append(out.People, PersonKeys{Name: who, Keys: a.Config.Keys(who)})
	}
	return out, nil
}

// headCommit is the commit the platform branch points at now; a branch the remote does not
// have is idp.yaml's to fix, not a retry's.
func (a *Activities) headCommit(ctx context.Context) (string, error) {
	commit, err := a.Repo.ResolveCommit(ctx, a.Config.Repository.Branch)
	if errors.Is(err, checkout.ErrUnknownBranch) {
		return "", fail.Wrap(fail.Config, err, "repository.branch in idp.yaml")
	}
	return commit, err
}
