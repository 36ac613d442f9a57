package imagewatch

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// Requesters of the promotions the watch starts. They are unsigned, as CI's are: nobody's
// key stands behind a push, so every gate that requires signatures still takes only signed
// approvals, and four-eyes has no person to exclude.
const (
	RequesterEvent = "idp-watch (ecr push)"
	RequesterPoll  = "idp-watch (ecr poll)"
)

// IsWatch reports whether requester is the image watch.
func IsWatch(requester string) bool { return requester == RequesterEvent || requester == RequesterPoll }

// StartSpec is a workflow start the watch asks for (workflows/api.PromoteStart builds the
// promotion's), plain data so that a workflow can hand it to an activity.
type StartSpec struct {
	WorkflowID   string `json:"workflowId"`
	WorkflowType string `json:"workflowType"`
	TaskQueue    string `json:"taskQueue"`
	Arg          any    `json:"arg"`
	// Keywords are the run's Keyword search attributes, by name.
	Keywords map[string]string `json:"keywords,omitempty"`
	Summary  string            `json:"summary,omitempty"`
}

// StartAPI is the part of a Temporal client that starts workflows.
type StartAPI interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow interface{}, args ...interface{}) (client.WorkflowRun, error)
}

// Started says what Start did: started a run, or found the ID already used.
type Started struct {
	WorkflowID string `json:"workflowId"`
	RunID      string `json:"runId,omitempty"`
	// Already: a run of this ID exists (running or closed), so nothing new was started.
	Already bool `json:"already,omitempty"`
}

// Start starts s unless a run of its ID exists, running or closed: the workflow ID is the
// key that makes an event, its redelivery and the poll start one promotion between them.
// (People re-run a closed promotion with `starter promote`; the watch never does.)
func Start(ctx context.Context, c StartAPI, s StartSpec) (Started, error) {
	attrs := make([]temporal.SearchAttributeUpdate, 0, len(s.Keywords))
	for k, v := range s.Keywords {
		attrs = append(attrs, temporal.NewSearchAttributeKeyKeyword(k).ValueSet(v))
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       s.WorkflowID,
		TaskQueue:                                s.TaskQueue,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(attrs...),
		StaticSummary:                            s.Summary,
	}, s.WorkflowType, s.Arg)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return Started{WorkflowID: s.WorkflowID, RunID: already.RunId, Already: true}, nil
	}
	if err != nil {
		return Started{}, fmt.Errorf("starting %s: %w", s.WorkflowID, err)
	}
	return Started{WorkflowID: s.WorkflowID, RunID: run.GetRunID()}, nil
}
