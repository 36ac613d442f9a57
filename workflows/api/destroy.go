package api

import (
	"strconv"
	"time"

	"github.com/alexpermiakov/idp/internal/signature"
)

// DestroyWorkflowName is the workflow type that tears an environment down.
const DestroyWorkflowName = "DestroyEnvironment"

// DestroyIDPrefix starts the workflow ID of every teardown.
const DestroyIDPrefix = "destroy-"

// KindDestroy is the IdpKind of a teardown.
const KindDestroy = "destroy"

// DestroyID is the workflow ID of an env's teardown, one at a time per env: "destroy-dev",
// and "destroy-dev-pr-7" for the preview env of pull request 7 derived from dev.
func DestroyID(env string, pr int) string {
	if pr > 0 {
		return DestroyIDPrefix + env + "-pr-" + strconv.Itoa(pr)
	}
	return DestroyIDPrefix + env
}

// Failure types of DestroyEnvironment.
const (
	// ErrBusy: promotions or a bootstrap into the env still run; the message names them.
	ErrBusy = "EnvironmentBusy"
)

// DestroyInput starts DestroyEnvironment.
type DestroyInput struct {
	Env string `json:"env"`
	// PR, when above 0, is the pull request whose preview env (derived from Env) goes.
	PR int `json:"pr,omitempty"`
	// PurgeState also deletes the state bucket, behind its own approval where the env's plan
	// approval is required; without it the bucket stays and only the env's state object goes.
	PurgeState bool `json:"purgeState,omitempty"`
	// Requester is who started the run; four-eyes keeps them from approving its plan.
	Requester string `json:"requester"`
	// Signature is the requester's armored SSH signature of Statement; empty for an unsigned
	// request (CI, or the preview TTL timer), which the run records as such.
	Signature string    `json:"signature,omitempty"`
	SignedAt  time.Time `json:"signedAt,omitzero"`
}

// Statement is what the requester of a teardown signs: the run (whose ID names the env and
// the pull request), the env as subject, "purge-state" as the comment when the bucket goes
// too, and the signing time.
func (in DestroyInput) Statement(workflowID string) signature.Statement {
	comment := ""
	if in.PurgeState {
		comment = "purge-state"
	}
	return signature.Statement{WorkflowID: workflowID, Env: in.Env, Decision: signature.DecisionRequest,
		Subject: in.Env, Comment: comment, SignedAt: in.SignedAt}
}

// Environment states of a teardown.
const (
	EnvDestroying EnvState = "destroying"
	EnvDestroyed  EnvState = "destroyed"
)
