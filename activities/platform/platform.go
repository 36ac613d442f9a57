// Package platform answers what a run needs to know about the platform before it starts:
// the commit it works on and the environment's policies, read once and recorded in history.
package platform

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

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

// PromotionInput names what is promoted and how far.
type PromotionInput struct {
	Service string `json:"service"`
	Tag     string `json:"tag"`
	// To is the last env; empty means as far as policy allows without a human.
	To string `json:"to,omitempty"`
}

// PromotionEnv is one env of a promotion's path with the policy that applies there.
type PromotionEnv struct {
	Name string `json:"name"`
	App  string `json:"app"`
	// Root is the env's app-of-apps, which carries App's definition from Git into the cluster.
	Root          string          `json:"root"`
	Approval      config.Approval `json:"approval"`
	RequirePassed string          `json:"requirePassed,omitempty"`
	Soak          time.Duration   `json:"soak"`
	HealthTimeout time.Duration   `json:"healthTimeout"`
	// Propose lands the change through a branch (a pull request on GitHub) merged after
	// approval, instead of a direct commit.
	Propose bool `json:"propose"`
}

// PromotionOutput is the promotion's path, entry env first.
type PromotionOutput struct {
	Envs []PromotionEnv `json:"envs"`
}

// PlanPromotion validates the tag against the entry patterns and returns the envs the
// promotion goes through, each with its policy. Bad input fails at once.
func (a *Activities) PlanPromotion(_ context.Context, in PromotionInput) (PromotionOutput, error) {
	envs, err := PromotionPath(a.Config, in)
	if err != nil {
		return PromotionOutput{}, fail.Wrap(fail.Config, err, "promote")
	}
	return PromotionOutput{Envs: envs}, nil
}

// PromotionPath is the envs a promotion of in goes through: from the env whose entry pattern
// the tag matches up to in.To, or, without To, up to the last env before one that needs a
// person's approval. The CLI uses it to refuse bad input before anything starts.
func PromotionPath(cfg *config.Config, in PromotionInput) ([]PromotionEnv, error) {
	if _, ok := cfg.Tooling.Repositories[in.Service]; !ok {
		return nil, fmt.Errorf("unknown service %q (tooling.repositories lists: %s)", in.Service, strings.Join(sortedKeys(cfg.Tooling.Repositories), ", "))
	}
	entry := -1
	var patterns []string
	for i, e := range cfg.Environments {
		if e.Promotion.EntryPattern == "" {
			continue
		}
		patterns = append(patterns, e.Name+": "+e.Promotion.EntryPattern)
		if regexp.MustCompile(e.Promotion.EntryPattern).MatchString(in.Tag) {
			entry = i
			break
		}
	}
	if entry < 0 {
		return nil, fmt.Errorf("tag %q matches no environment's entry pattern (%s)", in.Tag, strings.Join(patterns, "; "))
	}
	// A tag goes on only into envs that take it: those without an entry pattern of their own
	// (prod takes what staging had), or whose pattern it matches.
	last := entry
	for last+1 < len(cfg.Environments) {
		if p := cfg.Environments[last+1].Promotion.EntryPattern; p != "" && !regexp.MustCompile(p).MatchString(in.Tag) {
			break
		}
		last++
	}
	reach := last
	if in.To != "" {
		to := -1
		for i, e := range cfg.Environments {
			if e.Name == in.To {
				to = i
			}
		}
		switch {
		case to < 0:
			return nil, fmt.Errorf("unknown environment %q for --to (idp.yaml defines: %s)", in.To, strings.Join(cfg.EnvNames(), ", "))
		case to < entry:
			return nil, fmt.Errorf("--to %s comes before %s, where tag %s enters", in.To, cfg.Environments[entry].Name, in.Tag)
		case to > reach:
			return nil, fmt.Errorf("tag %s cannot go to %s: %s only takes tags matching %s", in.Tag, in.To,
				cfg.Environments[reach+1].Name, cfg.Environments[reach+1].Promotion.EntryPattern)
		}
		last = to
	} else {
		for i := entry; i <= last; i++ {
			if cfg.Environments[i].Promotion.Approval.Required {
				last = i - 1
				break
			}
		}
		if last < entry {
			last = entry // the entry env itself needs approval: go there and wait
		}
	}
	var out []PromotionEnv
	for _, e := range cfg.Environments[entry : last+1] {
		out = append(out, PromotionEnv{Name: e.Name, App: in.Service + "-" + e.Name, Root: e.ArgoCD.AppOfApps, Approval: e.Promotion.Approval,
			RequirePassed: e.Promotion.RequirePassed, Soak: e.Promotion.Soak.Std(), HealthTimeout: e.Promotion.HealthTimeout.Std(),
			Propose: e.Promotion.Approval.Required})
	}
	return out, nil
}

// FreezeInput names an env.
type FreezeInput struct {
	Env string `json:"env"`
}

// FreezeOutput says whether the env is frozen now.
type FreezeOutput struct {
	Frozen bool `json:"frozen"`
}

// CheckFreeze reads the env's freeze from the worker's current idp.yaml, so a freeze declared
// after a promotion started still stops it at the env's door.
func (a *Activities) CheckFreeze(_ context.Context, in FreezeInput) (FreezeOutput, error) {
	env, err := a.Config.Env(in.Env)
	if err != nil {
		return FreezeOutput{}, fail.Wrap(fail.Config, err, "idp.yaml")
	}
	return FreezeOutput{Frozen: env.Promotion.Freeze}, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
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
}

// SignalWithStart delivers a signal to a workflow, starting it if needed. Idempotent for the
// receivers idp uses: a lock treats a repeated request from the same owner as one.
func (s *Signaller) SignalWithStart(ctx context.Context, in SignalWithStartInput) error {
	_, err := s.Client.SignalWithStartWorkflow(ctx, in.WorkflowID, in.Signal, in.SignalArg,
		client.StartWorkflowOptions{ID: in.WorkflowID, TaskQueue: in.TaskQueue}, in.WorkflowType, in.StartArg)
	if err != nil {
		return fmt.Errorf("signal-with-start %s: %w", in.WorkflowID, err)
	}
	return nil
}
