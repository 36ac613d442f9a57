package cli

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/alexpermiakov/idp/workflows/api"
)

func TestListQuery(t *testing.T) {
	require.Equal(t, "IdpKind IS NOT NULL", listOptions{}.query())
	require.Equal(t, "IdpKind IS NOT NULL AND IdpKind = 'promote' AND IdpService = 'time-service' AND IdpEnvironment = 'prod' AND ExecutionStatus = 'Running'",
		listOptions{kind: "promote", service: "time-service", env: "prod", open: true}.query())
	require.ErrorContains(t, listOptions{env: "x' OR 1=1"}.validate(), "invalid filter value")
}

func TestBadInputExitsTwoWithoutTemporal(t *testing.T) {
	for _, args := range [][]string{
		{"bootstrap"},
		{"bootstrap", "--env", "qa", "--config", "../../idp.yaml"},
		{"bootstrap", "--env", "dev", "--config", "/nonexistent/idp.yaml"},
		{"reject", "bootstrap-dev", "--as", "bob"},
		{"status", "a", "b"},
		{"status", "bootstrap-dev", "-o", "yaml"},
		{"list", "--kind", "deploy"},
		{"frobnicate"},
		{"status", "--no-such-flag", "x"},
		{"bootstrap", "--env"},
		{"promote", "--service", "time-service", "--tag", "v1/../main", "--config", "../../idp.yaml"},
		{"promote", "--service", "time-service", "--tag", "-v1", "--config", "../../idp.yaml"},
		{"promote", "--service", "time-service", "--tag", "v1 2", "--config", "../../idp.yaml"},
	} {
		var out, errOut bytes.Buffer
		root := NewRoot(&out, &errOut)
		root.SetArgs(args)
		err := root.ExecuteContext(context.Background())
		require.Error(t, err, "%v", args)
		require.True(t, errors.As(err, new(*ExitError)), "%v: %v is not typed as bad input", args, err)
		require.Equal(t, ExitBadInput, Code(err), "%v: %v", args, err)
	}
	require.Equal(t, ExitBadInput, Main(context.Background(), []string{"frobnicate"}, &bytes.Buffer{}, &bytes.Buffer{}))
}

func TestPromoteRefusesTagsThatAreNotOCITags(t *testing.T) {
	for tag, ok := range map[string]bool{
		"v1.2.3": true, "sha-1a2b3c4": true, "_x": true, "V1_rc.2-b": true, strings.Repeat("a", 128): true,
		"-v1": false, ".v1": false, "v1/x": false, "v1:x": false, "v 1": false, "v1@sha256": false, strings.Repeat("a", 129): false,
	} {
		err := promoteOptions{service: "time-service", tag: tag}.validate()
		if ok {
			require.NoError(t, err, tag)
		} else {
			require.ErrorContains(t, err, "is not a valid image tag", tag)
		}
	}
}

func TestIdentityOrder(t *testing.T) {
	g := &globals{as: "alice"}
	require.Equal(t, "alice", g.identity())
	t.Setenv("IDP_USER", "bob")
	require.Equal(t, "bob", (&globals{}).identity())
}

func TestUnreachableTemporalExitsThreeNamingTheAddress(t *testing.T) {
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	t.Setenv("TEMPORAL_ADDRESS", "temporal.example.com:7233")
	t.Setenv("TEMPORAL_API_KEY", "secret-api-key")
	g := &globals{dial: func(client.Options) (client.Client, error) { return nil, errors.New("connection refused") }}
	_, err := g.client()
	require.Equal(t, ExitUnreachable, Code(err))
	require.ErrorContains(t, err, "connecting to Temporal at temporal.example.com:7233, namespace default")
	require.NotContains(t, err.Error(), "secret-api-key")
}

func TestBadTemporalTLSFileIsBadInput(t *testing.T) {
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	t.Setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "/nonexistent/ca.pem")
	g := &globals{dial: func(client.Options) (client.Client, error) { panic("dialed with a bad configuration") }}
	_, err := g.client()
	require.Equal(t, ExitBadInput, Code(err))
	require.ErrorContains(t, err, "TEMPORAL_TLS_SERVER_CA_CERT_PATH")
}

func TestStatusShowsUntilWhenAnEnvSoaks(t *testing.T) {
	until := time.Date(2026, 5, 4, 12, 30, 0, 0, time.UTC)
	var b strings.Builder
	printStatus(&b, api.Status{WorkflowID: "promote-time-service-sha-1a2b3c4", Kind: api.KindPromote, Stage: api.StageSoaking,
		Environments: []api.EnvStatus{{Name: "dev", State: api.EnvSoaking, Image: "idp/localtime:sha-1a2b3c4@sha256:aa", Commit: "c0ffee", SoakUntil: &until},
			{Name: "staging", State: api.EnvPending}}})
	require.Contains(t, b.String(), "env dev        soaking idp/localtime:sha-1a2b3c4@sha256:aa c0ffee (soaking until 2026-05-04T12:30:00Z)\n")
	require.Contains(t, b.String(), "env staging    pending\n")
}

// statusOfControls answers like the dev server for a running workflow that keeps no status
// (an env's Controls): the status query is unknown to it, and its result never comes.
type statusOfControls struct{ client.Client }

func (statusOfControls) QueryWorkflow(context.Context, string, string, string, ...interface{}) (converter.EncodedValue, error) {
	return nil, serviceerror.NewQueryFailed("unknown queryType status. KnownQueryTypes=[__stack_trace pins]")
}

func (statusOfControls) DescribeWorkflow(context.Context, string, string) (*client.WorkflowExecutionDescription, error) {
	return &client.WorkflowExecutionDescription{WorkflowExecutionMetadata: client.WorkflowExecutionMetadata{
		Status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING}}, nil
}

func (statusOfControls) GetWorkflow(context.Context, string, string) client.WorkflowRun {
	panic("waited for the result of a workflow that never ends")
}

// TestStatusOfAWorkflowThatIsNotARun: `starter status controls-dev` says at once, as bad
// input, that the ID is no run; it does not wait for a result that never comes.
func TestStatusOfAWorkflowThatIsNotARun(t *testing.T) {
	_, err := queryStatus(context.Background(), statusOfControls{}, "controls-dev")
	require.Equal(t, ExitBadInput, Code(err))
	require.ErrorContains(t, err, "controls-dev keeps no status (it is not a run)")
}
