package cli

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/crypto/ssh"

	"github.com/alexpermiakov/idp/internal/signature"
	"github.com/alexpermiakov/idp/workflows/api"
)

func TestDestroyStartsASignedRun(t *testing.T) {
	dir, alice, cfg := aliceSigns(t)
	f := &fakeStarts{}

	code, stdout, stderr := start(t, f, cfg, "destroy", "--env", "staging", "--purge-state", "--as", "alice", "--key", filepath.Join(dir, "alice"))
	require.Equal(t, ExitDone, code, stderr)
	require.Contains(t, stdout, "started destroy-staging as alice")
	in := f.inputs[0].(api.DestroyInput)
	require.Equal(t, api.DestroyInput{Env: "staging", PurgeState: true, Requester: "alice", Signature: in.Signature, SignedAt: signedAt}, in)
	st := in.Statement("destroy-staging")
	require.Equal(t, signature.Statement{WorkflowID: "destroy-staging", Env: "staging", Decision: "request", Subject: "staging",
		Comment: "purge-state", SignedAt: signedAt}, st)
	_, err := signature.Verify(st, in.Signature, []ssh.PublicKey{alice})
	require.NoError(t, err)

	code, stdout, stderr = start(t, f, cfg, "destroy", "--env", "dev", "--pr", "42", "--as", "ci", "--no-sign")
	require.Equal(t, ExitDone, code, stderr)
	require.Contains(t, stdout, "started destroy-dev-pr-42 as ci")
	require.Equal(t, api.DestroyInput{Env: "dev", PR: 42, Requester: "ci"}, f.inputs[1])
}

func TestDestroyRefusesBadInputNamingTheFix(t *testing.T) {
	cfg := filepath.Join("..", "..", "idp.yaml")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"destroy"}, "--env is required"},
		{[]string{"destroy", "--env", "qa"}, `unknown environment "qa" (idp.yaml defines: dev, staging, prod)`},
		{[]string{"destroy", "--env", "dev", "--pr", "-1"}, "--pr must be a pull request number"},
		{[]string{"destroy", "--env", "dev", "--pr", "3", "--purge-state"}, "--purge-state cannot go with --pr"},
	} {
		f := &fakeStarts{}
		code, _, stderr := start(t, f, cfg, append(c.args, "--as", "alice", "--no-sign")...)
		require.Equal(t, ExitBadInput, code, "%v", c.args)
		require.Contains(t, stderr, c.want, "%v", c.args)
		require.Empty(t, f.inputs, "nothing starts on bad input")
	}
}

func TestListTakesKindDestroy(t *testing.T) {
	require.NoError(t, listOptions{kind: api.KindDestroy}.validate())
	require.Equal(t, "IdpKind IS NOT NULL AND IdpKind = 'destroy'", listOptions{kind: api.KindDestroy}.query())
}

// liveRun is a Temporal client on which one run is open: describing it finds it running;
// signals are recorded.
type liveRun struct {
	fakeStarts
	id, runID string
	signals   []string
	requests  []api.DestroyRequest
}

func (f *liveRun) DescribeWorkflow(ctx context.Context, id, runID string) (*client.WorkflowExecutionDescription, error) {
	if id != f.id {
		return f.fakeStarts.DescribeWorkflow(ctx, id, runID)
	}
	d := &client.WorkflowExecutionDescription{}
	d.WorkflowExecution = workflow.Execution{ID: id, RunID: f.runID}
	d.Status = enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	return d, nil
}

func (f *liveRun) SignalWorkflow(_ context.Context, id, runID, name string, arg interface{}) error {
	f.signals = append(f.signals, id+"/"+runID+" "+name)
	f.requests = append(f.requests, arg.(api.DestroyRequest))
	return nil
}

// While the preview's run is open, destroy --pr hands the signed request to it: its timer
// ends and it starts the destroy with that request; nothing is started beside it.
func TestDestroyOfALivePreviewAsksItsRunToEnd(t *testing.T) {
	dir, alice, cfg := aliceSigns(t)
	f := &liveRun{id: "bootstrap-dev-pr-7", runID: "run-7"}

	code, stdout, stderr := start(t, f, cfg, "destroy", "--env", "dev", "--pr", "7", "--as", "alice", "--key", filepath.Join(dir, "alice"))
	require.Equal(t, ExitDone, code, stderr)
	require.Contains(t, stdout, "asked bootstrap-dev-pr-7 to end its preview as alice: it starts destroy-dev-pr-7 with this request")
	require.Empty(t, f.inputs, "no destroy started beside the preview's own")
	require.Equal(t, []string{"bootstrap-dev-pr-7/run-7 destroy"}, f.signals)
	req := f.requests[0]
	require.Equal(t, "alice", req.Who)
	require.NotNil(t, req.Input)
	require.Equal(t, api.DestroyInput{Env: "dev", PR: 7, Requester: "alice", Signature: req.Input.Signature, SignedAt: signedAt}, *req.Input)
	_, err := signature.Verify(req.Input.Statement("destroy-dev-pr-7"), req.Input.Signature, []ssh.PublicKey{alice})
	require.NoError(t, err, "signed for the destroy's own ID, which the destroy checks")
}
