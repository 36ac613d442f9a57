package platform

import (
	"context"
	"fmt"
	"slices"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/alexpermiakov/idp/internal/fail"
)

// blockingKinds are the runs a teardown of their env waits for nobody to be running: they
// write to the env (promotions, trains) or build it (bootstrap).
var blockingKinds = []string{"promote", "train", "bootstrap"}

// OpenRunsInput names the env whose running runs to list, and the run asking (left out).
type OpenRunsInput struct {
	Env     string `json:"env"`
	Exclude string `json:"exclude,omitempty"`
}

// OpenRun is one running run into the env.
type OpenRun struct {
	WorkflowID string `json:"workflowId"`
	Kind       string `json:"kind"`
}

// OpenRunsOutput lists the runs still running into the env, by workflow ID.
type OpenRunsOutput struct {
	Runs []OpenRun `json:"runs"`
}

// OpenRuns lists, through the visibility API (as `starter list --env ENV --open` does), the
// promotions, trains and bootstraps running with IdpEnvironment = env, and the previews of env
// still up or being destroyed (IdpEnvironment <env>-pr-<N>): they live in env's account and
// state bucket, and use its GitHub role.
func (s *Signaller) OpenRuns(ctx context.Context, in OpenRunsInput) (OpenRunsOutput, error) {
	if strings.ContainsAny(in.Env, `'"\`) {
		return OpenRunsOutput{}, fail.New(fail.Config, "invalid env name %q", in.Env)
	}
	out := OpenRunsOutput{Runs: []OpenRun{}}
	into := fmt.Sprintf("IdpEnvironment = '%s' AND ExecutionStatus = 'Running' AND IdpKind IN ('%s')",
		in.Env, strings.Join(blockingKinds, "', '"))
	if err := s.listRuns(ctx, into, in, func(string) bool { return true }, &out); err != nil {
		return out, err
	}
	// Visibility has no prefix match on every store: previews are picked out here (idp.yaml
	// refuses env names that start with another's and '-', so the prefix is the base's alone).
	previews := "ExecutionStatus = 'Running' AND IdpKind IN ('bootstrap', 'destroy')"
	prefix := in.Env + "-pr-"
	if err := s.listRuns(ctx, previews, in, func(env string) bool { return strings.HasPrefix(env, prefix) }, &out); err != nil {
		return out, err
	}
	slices.SortFunc(out.Runs, func(a, b OpenRun) int { return strings.Compare(a.WorkflowID, b.WorkflowID) })
	return out, nil
}

// listRuns adds to out the runs q lists whose IdpEnvironment keep takes, but in.Exclude.
func (s *Signaller) listRuns(ctx context.Context, q string, in OpenRunsInput, keep func(env string) bool, out *OpenRunsOutput) error {
	var token []byte
	for {
		resp, err := s.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q, NextPageToken: token, PageSize: 100})
		if err != nil {
			return fmt.Errorf("listing runs into %s: %w", in.Env, err)
		}
		for _, e := range resp.Executions {
			id := e.GetExecution().GetWorkflowId()
			fields := e.GetSearchAttributes().GetIndexedFields()
			if id == in.Exclude || !keep(keyword(fields["IdpEnvironment"])) {
				continue
			}
			out.Runs = append(out.Runs, OpenRun{WorkflowID: id, Kind: keyword(fields["IdpKind"])})
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return nil
		}
	}
}

func keyword(p *commonpb.Payload) string {
	var s string
	if p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &s)
	}
	return s
}

// SharedAccountInput names an env.
type SharedAccountInput struct {
	Env string `json:"env"`
}

// SharedAccountOutput names the other envs of idp.yaml in the same AWS account: they all use
// the account's GitHub OIDC provider, and those in Role its GitHub role too.
type SharedAccountOutput struct {
	Envs []string `json:"envs"`
	Role []string `json:"role"`
}

// SharedAccount lists the other envs in the env's AWS account, read from the worker's
// idp.yaml, so a teardown leaves the account-wide GitHub role to the envs still using it.
func (a *Activities) SharedAccount(_ context.Context, in SharedAccountInput) (SharedAccountOutput, error) {
	env, err := a.Config.Env(in.Env)
	if err != nil {
		return SharedAccountOutput{}, fail.Wrap(fail.Config, err, "idp.yaml")
	}
	out := SharedAccountOutput{Envs: []string{}, Role: []string{}}
	for _, e := range a.Config.Environments {
		if e.Name == env.Name || e.AWS.AccountID != env.AWS.AccountID {
			continue
		}
		out.Envs = append(out.Envs, e.Name)
		if e.GitHubRole == env.GitHubRole {
			out.Role = append(out.Role, e.Name)
		}
	}
	return out, nil
}
