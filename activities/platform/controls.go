package platform

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/internal/controls"
)

// ControlRulesInput names the env whose controls someone asks to change.
type ControlRulesInput struct {
	Env string `json:"env"`
}

// ControlRules reads from the worker's current idp.yaml who may freeze, unfreeze, pin and
// unpin in an env, and with which keys (controls.RulesFor). Read when a request arrives, so a
// revoked key or a removed person counts at once.
func (a *Activities) ControlRules(_ context.Context, in ControlRulesInput) (controls.Rules, error) {
	return controls.RulesFor(a.Config, in.Env), nil
}

// PinInput is idp's own pin after a rollback: service stays in env on image.
type PinInput struct {
	Env     string `json:"env"`
	Service string `json:"service"`
	Image   string `json:"image"`
	Reason  string `json:"reason"`
	// Run is the promotion that rolled back.
	Run       string `json:"run"`
	TaskQueue string `json:"taskQueue"`
}

// Pin asks env's Controls workflow, starting it when needed, to pin service on image, as idp
// itself (controls.System). Idempotent: pinning a pinned service replaces its pin.
func (s *Signaller) Pin(ctx context.Context, in PinInput) error {
	req := controls.Request{Env: in.Env, Service: in.Service, Image: in.Image, Reason: in.Reason, Who: controls.System, Run: in.Run}
	start := s.Client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{ID: controls.WorkflowID(in.Env), TaskQueue: in.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING}, controls.WorkflowName, controls.State{Env: in.Env})
	h, err := s.Client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{UpdateName: controls.OpPin, Args: []any{req}, WaitForStage: client.WorkflowUpdateStageCompleted}})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err != nil {
		return fmt.Errorf("pinning %s in %s: %w", in.Service, in.Env, err)
	}
	return nil
}

// PinnedInput asks whether service is pinned in env.
type PinnedInput struct {
	Env     string `json:"env"`
	Service string `json:"service"`
}

// PinnedOutput is the answer, with the pin when there is one, and the env's freezes.
type PinnedOutput struct {
	Pinned  bool              `json:"pinned"`
	Pin     *controls.Pin     `json:"pin,omitempty"`
	Freezes []controls.Freeze `json:"freezes"`
}

// Pinned asks env's Controls workflow whether service is pinned there (and whether the env is
// frozen). Any workflow may call it, e.g. an image watch that must leave pinned envs alone; an
// env whose Controls workflow never started has no pin and no freeze.
func (s *Signaller) Pinned(ctx context.Context, in PinnedInput) (PinnedOutput, error) {
	st, err := controls.Get(ctx, s.Client, in.Env)
	if err != nil {
		return PinnedOutput{}, err
	}
	out := PinnedOutput{Pin: controls.PinOf(st.Pins, in.Service), Freezes: st.Freezes}
	out.Pinned = out.Pin != nil
	return out, nil
}
