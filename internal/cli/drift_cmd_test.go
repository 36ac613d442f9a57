package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/alexpermiakov/idp/workflows/api"
)

// driftClient is a Temporal client whose drift checks end with report, and whose
// visibility holds checks.
type driftClient struct {
	fakeStarts
	report api.DriftReport
	starts []client.StartWorkflowOptions
	checks []*workflowpb.WorkflowExecutionInfo
	query  string
}

func (f *driftClient) ExecuteWorkflow(ctx context.Context, o client.StartWorkflowOptions, wf interface{}, args ...interface{}) (client.WorkflowRun, error) {
	f.starts = append(f.starts, o)
	return f.fakeStarts.ExecuteWorkflow(ctx, o, wf, args...)
}

func (f *driftClient) status() api.Status {
	return api.Status{WorkflowID: api.DriftID(f.report.Env), Kind: api.KindDrift, Stage: api.StageDone, Drift: &f.report}
}

func (f *driftClient) GetWorkflow(_ context.Context, id, _ string) client.WorkflowRun {
	return statusRun{fakeRun: fakeRun{id: id}, st: f.status()}
}

func (f *driftClient) QueryWorkflow(context.Context, string, string, string, ...interface{}) (converter.EncodedValue, error) {
	return value{f.status()}, nil
}

func (f *driftClient) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	f.query = req.Query
	return &workflowservice.ListWorkflowExecutionsResponse{Executions: f.checks}, nil
}

type statusRun struct {
	fakeRun
	st api.Status
}

func (r statusRun) Get(_ context.Context, p interface{}) error {
	*(p.(*api.Status)) = r.st
	return nil
}

func TestDriftWaitExitsFourWhenDrifted(t *testing.T) {
	cfg := filepath.Join("..", "..", "idp.yaml")
	f := &driftClient{report: api.DriftReport{Env: "staging", Commit: "c0ffee", Drifted: true,
		Terraform: []string{"module.vpc.aws_vpc.this"}, Changes: []string{"module.vpc.aws_vpc.this"}, OIDC: []string{}, ArgoCD: []string{}}}
	code, out, stderr := start(t, f, cfg, "drift", "--env", "staging", "--wait", "--as", "ci")
	require.Equal(t, ExitDrifted, code, stderr)
	require.Contains(t, out, "staging drifted from platform commit c0ffee\nchanged outside terraform (plan -refresh-only):\n  - module.vpc.aws_vpc.this\n")
	require.Contains(t, stderr, "staging drifted: rerun `starter bootstrap --env staging`")
	require.Equal(t, api.DriftInput{Env: "staging", Requester: "ci"}, f.inputs[0])
	require.Equal(t, "drift-staging", f.starts[0].ID)
	kind, _ := f.starts[0].TypedSearchAttributes.GetKeyword(api.AttrKind)
	require.Equal(t, api.KindDrift, kind)

	code, out, _ = start(t, f, cfg, "drift", "--env", "staging", "--wait", "-o", "json")
	require.Equal(t, ExitDrifted, code)
	var rep api.DriftReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep), "only the report is on stdout: %s", out)
	require.Equal(t, f.report, rep)

	f.report = api.DriftReport{Env: "staging", Commit: "c0ffee"}
	code, out, stderr = start(t, f, cfg, "drift", "--env", "staging", "--wait")
	require.Equal(t, ExitDone, code, stderr)
	require.Contains(t, out, "staging matches platform commit c0ffee: no drift")

	code, _, stderr = start(t, f, cfg, "drift", "--env", "qa")
	require.Equal(t, ExitBadInput, code)
	require.Contains(t, stderr, `unknown environment "qa"`)
	code, _, stderr = start(t, f, cfg, "drift", "-o", "json")
	require.Equal(t, ExitBadInput, code)
	require.Contains(t, stderr, "--env is required")
	require.Contains(t, stderr, "-o json prints the report, which needs --wait")
}

func TestListDriftedShowsEnvsWhoseLatestCheckDrifted(t *testing.T) {
	dc := converter.GetDefaultDataConverter()
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	check := func(env, id string, hours int, drifted bool) *workflowpb.WorkflowExecutionInfo {
		kw := func(v any) *commonpb.Payload {
			p, err := dc.ToPayload(v)
			require.NoError(t, err)
			return p
		}
		return &workflowpb.WorkflowExecutionInfo{Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: id + "-run"},
			StartTime: timestamppb.New(at.Add(time.Duration(hours) * time.Hour)),
			SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{
				"IdpKind": kw("drift"), "IdpEnvironment": kw(env), "IdpDrift": kw(drifted)}}}
	}
	f := &driftClient{checks: []*workflowpb.WorkflowExecutionInfo{
		check("dev", "drift-dev-1", 0, true), check("dev", "drift-dev-2", 6, false), // fixed since
		check("staging", "drift-staging-2", 6, true), check("staging", "drift-staging-1", 0, false),
		check("prod", "drift-prod", 1, true),
	}}
	cfg := filepath.Join("..", "..", "idp.yaml")
	code, out, stderr := start(t, f, cfg, "list", "--drifted")
	require.Equal(t, ExitDone, code, stderr)
	require.Equal(t, "IdpKind = 'drift' AND IdpDrift IS NOT NULL", f.query)
	require.Contains(t, out, "prod     drift-prod")
	require.Contains(t, out, "staging  drift-staging-2")
	require.NotContains(t, out, "dev ")

	code, out, _ = start(t, f, cfg, "list", "--drifted", "--env", "prod", "-o", "json")
	require.Equal(t, ExitDone, code)
	require.Equal(t, "IdpKind = 'drift' AND IdpDrift IS NOT NULL AND IdpEnvironment = 'prod'", f.query)
	var got []DriftedEnv
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Len(t, got, 2, "the fake ignores the filter")
	require.Equal(t, DriftedEnv{Env: "prod", WorkflowID: "drift-prod", RunID: "drift-prod-run", Checked: at.Add(time.Hour)}, got[0])
	require.Equal(t, "drift-staging-2", got[1].WorkflowID)

	code, _, stderr = start(t, f, cfg, "list", "--drifted", "--kind", "promote")
	require.Equal(t, ExitBadInput, code)
	require.Contains(t, stderr, "--drifted lists envs")
}
