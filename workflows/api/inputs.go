package api

import "time"

// PromoteInput starts Promote.
type PromoteInput struct {
	Service string `json:"service"`
	Tag     string `json:"tag"`
	// To is the last env; empty means as far as policy allows without a person.
	To        string `json:"to,omitempty"`
	Requester string `json:"requester"`
	// Supersede asks an older promotion of the service still waiting for approval to step aside.
	Supersede bool `json:"supersede,omitempty"`
	// Signature is the requester's armored SSH signature of Statement; empty for an unsigned
	// request (CI), which the run records as such.
	Signature string    `json:"signature,omitempty"`
	SignedAt  time.Time `json:"signedAt,omitzero"`
}

// Failure types of Promote.
const (
	ErrSuperseded = "Superseded"
	ErrFrozen     = "Frozen"
	// ErrPinned: the service is pinned in an env of the path (starter pin, or a rollback).
	ErrPinned     = "Pinned"
	ErrNotPassed  = "NotPassed"
	ErrRolledBack = "RolledBack"
	// ErrNotRolledBack: the image did not become healthy, and a later change had already
	// replaced it, so there was nothing of ours to roll back.
	ErrNotRolledBack = "NotRolledBack"
	// ErrRetagged: the tag points at another digest than the one the run resolved.
	ErrRetagged = "Retagged"
)

// BootstrapInput starts BootstrapEnvironment.
type BootstrapInput struct {
	Env string `json:"env"`
	// Requester is who started the run; four-eyes keeps them from approving its plan.
	Requester string `json:"requester"`
	// Signature is the requester's armored SSH signature of Statement; empty for an unsigned
	// request (CI), which the run records as such.
	Signature string    `json:"signature,omitempty"`
	SignedAt  time.Time `json:"signedAt,omitzero"`
	// PR, when above 0, bootstraps pull request PR's preview of Env (preview.go) instead of
	// Env itself; the run then holds the preview for TTL and destroys it.
	PR int `json:"pr,omitempty"`
	// TTL is how long a preview lives once it is up (default DefaultPreviewTTL).
	TTL time.Duration `json:"ttl,omitempty"`
	// Branch is the preview's head branch; empty: the provider's (see platform.Describe).
	Branch string `json:"branch,omitempty"`
}

// ApproveInput is the payload of the approve update and signal.
type ApproveInput struct {
	Who string `json:"who"`
	// Subject must be the pending plan sha256 or image digest: an approval binds to exactly
	// what the approver saw.
	Subject string `json:"subject"`
	Comment string `json:"comment,omitempty"`
	// Signature is the armored SSH signature (SSHSIG, namespace "idp") of the statement
	// internal/signature builds from the run, env, decision, subject, comment and SignedAt.
	Signature string    `json:"signature,omitempty"`
	SignedAt  time.Time `json:"signedAt,omitempty"`
}

// RejectInput is the payload of the reject update and signal.
type RejectInput struct {
	Who     string `json:"who"`
	Subject string `json:"subject"`
	// Reason is signed as the statement's comment.
	Reason    string    `json:"reason"`
	Signature string    `json:"signature,omitempty"`
	SignedAt  time.Time `json:"signedAt,omitempty"`
}

// DecisionResult is what the approve and reject updates return.
type DecisionResult struct {
	// Received approvals for the pending subject, including this one; Needed to open the gate.
	Received int    `json:"received"`
	Needed   int    `json:"needed"`
	Message  string `json:"message"`
}
