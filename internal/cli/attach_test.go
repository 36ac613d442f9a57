package cli

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/internal/imagewatch"
	"github.com/alexpermiakov/idp/workflows/api"
)

// runningByWatch is a Temporal client where every start finds a run of the ID already
// running, requested by requester, which ends done.
type runningByWatch struct {
	fakeStarts
	requester string
}

func (f *runningByWatch) ExecuteWorkflow(context.Context, client.StartWorkflowOptions, interface{}, ...interface{}) (client.WorkflowRun, error) {
	return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("already started", "", "run-7")
}

func (f *runningByWatch) QueryWorkflow(ctx context.Context, id, runID, query string, args ...interface{}) (converter.EncodedValue, error) {
	if query == controls.Query {
		return f.fakeStarts.QueryWorkflow(ctx, id, runID, query, args...)
	}
	return value{api.Status{Requester: f.requester, Stage: api.StageDone}}, nil
}

func TestPromoteFollowsTheRunTheWatchStarted(t *testing.T) {
	cfg := filepath.Join("..", "..", "idp.yaml")
	t.Setenv("IDP_SIGNING_KEY", "")
	t.Setenv("IDP_KEYS_DIR", "")
	t.Setenv("SSH_AUTH_SOCK", "")
	f := &runningByWatch{requester: imagewatch.RequesterEvent}
	code, out, stderr := start(t, f, cfg, "promote", "--service", "time-service", "--tag", "sha-1a2b3c4", "--wait", "--as", "ci", "--no-sign")
	require.Equal(t, ExitDone, code, stderr)
	require.Contains(t, out, "promote-time-service-sha-1a2b3c4 was already started by idp-watch (ecr push) (the pushed image's promotion): following it")
	require.Contains(t, out, "/workflows/promote-time-service-sha-1a2b3c4/run-7")

	code, _, stderr = start(t, f, cfg, "promote", "--service", "time-service", "--tag", "v1.2.3", "--to", "prod", "--as", "ci", "--no-sign")
	require.Equal(t, ExitBadInput, code)
	require.Contains(t, stderr, "started by idp-watch (ecr push), and stops at staging: wait for it")

	f.requester = "bob"
	code, _, stderr = start(t, f, cfg, "promote", "--service", "time-service", "--tag", "sha-1a2b3c4", "--as", "ci", "--no-sign")
	require.Equal(t, ExitBadInput, code)
	require.Contains(t, stderr, "promote-time-service-sha-1a2b3c4 is already running (requested by bob)")
	require.NotContains(t, stderr, "note:", "a refused request says only why it was refused")
}
