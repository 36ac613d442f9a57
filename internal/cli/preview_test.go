package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/alexpermiakov/idp/workflows/api"
)

// previewClient is a Temporal client for previews: starts are recorded with their options,
// and, when live is set, find the preview running; signals are recorded; listing answers
// with listed.
type previewClient struct {
	fakeStarts
	live    bool
	opts    []client.StartWorkflowOptions
	signals []string
	extends []api.ExtendInput
	query   string
	listed  []*workflowpb.WorkflowExecutionInfo
}

func (f *previewClient) ExecuteWorkflow(ctx context.Context, o client.StartWorkflowOptions, w interface{}, args ...interface{}) (client.WorkflowRun, error) {
	f.opts = append(f.opts, o)
	if f.live {
		return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("already started", "", "run-7")
	}
	return f.fakeStarts.ExecuteWorkflow(ctx, o, w, args...)
}

func (f *previewClient) SignalWorkflow(_ context.Context, id, runID, name string, arg interface{}) error {
	f.signals = append(f.signals, id+"/"+runID+" "+name)
	f.extends = append(f.extends, arg.(api.ExtendInput))
	return nil
}

func (f *previewClient) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	f.query = req.GetQuery()
	return &workflowservice.ListWorkflowExecutionsResponse{Executions: f.listed}, nil
}

func previewEnv(t *testing.T) string {
	t.Setenv("IDP_SIGNING_KEY", "")
	t.Setenv("IDP_KEYS_DIR", "")
	t.Setenv("SSH_AUTH_SOCK", "")
	return filepath.Join("..", "..", "idp.yaml")
}

func TestBootstrapPreviewStartsTheRunOfThePreview(t *testing.T) {
	cfg := previewEnv(t)
	f := &previewClient{}
	code, out, stderr := start(t, f, cfg, "bootstrap", "--env", "dev", "--pr", "7", "--ttl", "24h", "--as", "alice", "--no-sign")
	require.Equal(t, ExitDone, code, stderr)
	require.Contains(t, out, "started bootstrap-dev-pr-7 as alice")
	require.Equal(t, api.BootstrapInput{Env: "dev", PR: 7, TTL: 24 * time.Hour, Requester: "alice"}, f.inputs[0], "unsigned (--no-sign)")
	require.Len(t, f.opts, 1)
	require.Equal(t, "bootstrap-dev-pr-7", f.opts[0].ID)
	attrs := f.opts[0].TypedSearchAttributes
	for key, want := range map[string]string{"IdpPreview": "dev-pr-7", "IdpEnvironment": "dev-pr-7", "IdpKind": "bootstrap"} {
		got, ok := attrs.GetKeyword(keyword(key))
		require.True(t, ok, key)
		require.Equal(t, want, got, key)
	}

	// Without --pr the request is the env's own, as before.
	f = &previewClient{}
	code, _, stderr = start(t, f, cfg, "bootstrap", "--env", "dev", "--as", "alice", "--no-sign")
	require.Equal(t, ExitDone, code, stderr)
	require.Equal(t, "bootstrap-dev", f.opts[0].ID)
	_, ok := f.opts[0].TypedSearchAttributes.GetKeyword(keyword("IdpPreview"))
	require.False(t, ok)
}

func TestBootstrapPreviewAgainWithTTLExtendsTheLiveOne(t *testing.T) {
	cfg := previewEnv(t)
	f := &previewClient{live: true}
	code, out, stderr := start(t, f, cfg, "bootstrap", "--env", "dev", "--pr", "7", "--ttl", "48h", "--as", "bob", "--no-sign")
	require.Equal(t, ExitDone, code, stderr)
	require.Contains(t, out, "bootstrap-dev-pr-7 is live: asked it to expire 48h0m0s from now")
	require.Equal(t, []string{"bootstrap-dev-pr-7/run-7 extend"}, f.signals)
	require.Equal(t, []api.ExtendInput{{TTL: 48 * time.Hour, Who: "bob"}}, f.extends)

	// Without --ttl nothing is extended: a second start is refused as for any bootstrap.
	f = &previewClient{live: true}
	code, _, stderr = start(t, f, cfg, "bootstrap", "--env", "dev", "--pr", "7", "--as", "bob", "--no-sign")
	require.Equal(t, ExitBadInput, code)
	require.Contains(t, stderr, "bootstrap-dev-pr-7 is already running")
	require.Empty(t, f.signals)
}

func TestBootstrapPreviewBadInput(t *testing.T) {
	cfg := previewEnv(t)
	for args, want := range map[string][]string{
		"--ttl and --branch are for previews": {"--env", "dev", "--ttl", "24h"},
		"--pr must be a pull request number":  {"--env", "dev", "--pr", "-3"},
		"--ttl must be at least 1m":           {"--env", "dev", "--pr", "3", "--ttl", "10s"},
		"is not a Git branch name":            {"--env", "dev", "--pr", "3", "--branch", "a b"},
	} {
		f := &previewClient{}
		code, _, stderr := start(t, f, cfg, append([]string{"bootstrap", "--as", "bob", "--no-sign"}, want...)...)
		require.Equal(t, ExitBadInput, code, "%v", want)
		require.Contains(t, stderr, args)
		require.Empty(t, f.opts, "nothing started")
	}
}

func TestListPreviewsShowsTheTTLLeft(t *testing.T) {
	cfg := previewEnv(t)
	expires := signedAt.Add(5*time.Hour + 30*time.Minute).UTC().Truncate(time.Second)
	f := &previewClient{listed: []*workflowpb.WorkflowExecutionInfo{
		listedRun(t, "bootstrap-dev-pr-7", map[string]string{"IdpKind": "bootstrap", "IdpPreview": "dev-pr-7", "IdpStage": "done",
			"IdpEnvironment": "dev-pr-7", "IdpExpiresAt": expires.Format(time.RFC3339)}),
		listedRun(t, "bootstrap-dev-pr-8", map[string]string{"IdpKind": "bootstrap", "IdpPreview": "dev-pr-8", "IdpStage": "applying",
			"IdpEnvironment": "dev-pr-8"}),
	}}
	code, out, stderr := start(t, f, cfg, "list", "--previews")
	require.Equal(t, ExitDone, code, stderr)
	require.Equal(t, "IdpKind IS NOT NULL AND ExecutionStatus = 'Running' AND IdpPreview IS NOT NULL", f.query)
	require.Regexp(t, `dev-pr-7\s+bootstrap-dev-pr-7\s+done\s+`+expires.Format(time.RFC3339)+`\s+5h30m0s`, out)
	require.Regexp(t, `dev-pr-8\s+bootstrap-dev-pr-8\s+applying\s+-\s+bootstrapping`, out)

	code, out, stderr = start(t, f, cfg, "list", "--previews", "-o", "json")
	require.Equal(t, ExitDone, code, stderr)
	var runs []RunSummary
	require.NoError(t, json.Unmarshal([]byte(out), &runs))
	require.Len(t, runs, 2)
	require.Equal(t, "dev-pr-7", runs[0].Preview)
	require.Equal(t, "5h30m0s", runs[0].TTLLeft)
	require.Equal(t, expires, runs[0].ExpiresAt.UTC())
	require.Nil(t, runs[1].ExpiresAt)
}

func TestPreviewUpEndsTheWait(t *testing.T) {
	at := signedAt.Add(time.Hour)
	st := api.Status{WorkflowID: "bootstrap-dev-pr-7", Stage: api.StageDone,
		Preview: &api.PreviewStatus{Env: "dev-pr-7", Base: "dev", PR: 7, ExpiresAt: &at}}
	require.Contains(t, previewUp(st), "preview dev-pr-7 is up; it expires at "+at.UTC().Format(time.RFC3339))
	st.Stage = api.StageApplying
	require.Empty(t, previewUp(st), "still bootstrapping")
	st.Stage, st.Preview.Destroy = api.StageDone, "destroy-dev-pr-7"
	require.Empty(t, previewUp(st), "ended")
	require.Empty(t, previewUp(api.Status{Stage: api.StageDone}), "not a preview")
}

func listedRun(t *testing.T, id string, attrs map[string]string) *workflowpb.WorkflowExecutionInfo {
	t.Helper()
	fields := map[string]*commonpb.Payload{}
	for k, v := range attrs {
		p, err := converter.GetDefaultDataConverter().ToPayload(v)
		require.NoError(t, err)
		fields[k] = p
	}
	return &workflowpb.WorkflowExecutionInfo{Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: "run-1"},
		Status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, StartTime: timestamppb.New(signedAt),
		SearchAttributes: &commonpb.SearchAttributes{IndexedFields: fields}}
}

func keyword(name string) temporal.SearchAttributeKeyKeyword {
	return temporal.NewSearchAttributeKeyKeyword(name)
}
