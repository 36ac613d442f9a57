package platform

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// describeClient answers DescribeWorkflow from a fixed status or error; any other
// call panics on the nil embedded client.
type describeClient struct {
	client.Client
	status enumspb.WorkflowExecutionStatus
	err    error
}

func (c *describeClient) DescribeWorkflow(context.Context, string, string) (*client.WorkflowExecutionDescription, error) {
	if c.err != nil {
		return nil, c.err
	}
	return &client.WorkflowExecutionDescription{WorkflowExecutionMetadata: client.WorkflowExecutionMetadata{Status: c.status}}, nil
}

func TestWorkflowRunning(t *testing.T) {
	for _, c := range []struct {
		name    string
		client  *describeClient
		want    WorkflowRunningOutput
		wantErr string
	}{
		{"running", &describeClient{status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING}, WorkflowRunningOutput{Running: true, Status: "running"}, ""},
		{"continued as new: its chain goes on", &describeClient{status: enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW},
			WorkflowRunningOutput{Running: true, Status: "continuedasnew"}, ""},
		{"terminated", &describeClient{status: enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED}, WorkflowRunningOutput{Status: "terminated"}, ""},
		{"timed out", &describeClient{status: enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT}, WorkflowRunningOutput{Status: "timedout"}, ""},
		{"not found counts as gone", &describeClient{err: serviceerror.NewNotFound("workflow not found")}, WorkflowRunningOutput{Status: "not found"}, ""},
		{"other errors are retried", &describeClient{err: errors.New("connection refused")}, WorkflowRunningOutput{}, "describing workflow promote-a: connection refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := (&Signaller{Client: c.client}).WorkflowRunning(context.Background(), WorkflowRunningInput{WorkflowID: "promote-a"})
			if c.wantErr != "" {
				require.EqualError(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}
