// Package fail names the failures a person must act on, shared by workflows and activities.
//
// Activities turn such errors into non-retryable application errors with one of these stable
// types, so workflows can branch on them and the CLI can show them as they are.
package fail

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
)

// Stable application error types.
const (
	// Config: idp.yaml or the repository content is wrong; fix it and start again.
	Config = "ConfigError"
	// NotFound: something the run needs does not exist (an image tag, a plan file).
	NotFound = "NotFound"
	// AccessDenied: the credentials in use may not do this.
	AccessDenied = "AccessDenied"
	// Rejected: a person rejected the pending approval.
	Rejected = "Rejected"
	// ApprovalExpired: nobody decided before the approval expired.
	ApprovalExpired = "ApprovalExpired"
	// StalePlan: the saved plan no longer matches the state; re-plan and re-approve.
	StalePlan = "StalePlan"
	// PlanMismatch: the plan file is not the one people approved.
	PlanMismatch = "PlanMismatch"
	// Conflict: a change cannot be merged as it is (its base changed the same lines).
	Conflict = "Conflict"
	// Terraform: terraform itself failed in a way a retry will not fix.
	Terraform = "TerraformError"
	// Replaced: what a step wrote was replaced by a later change before it ran or before it
	// could be undone; the later change owns the file now, and nothing of ours is left to act on.
	Replaced = "Replaced"
)

// New returns a non-retryable application error of the given type.
func New(typ string, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), typ, nil)
}

// Wrap returns a non-retryable application error of the given type around err.
func Wrap(typ string, err error, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...)+": "+err.Error(), typ, err)
}

// Is reports whether err is (or wraps) an application error of the given type.
func Is(err error, typ string) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == typ
}

// Message returns the innermost useful message of a workflow or activity error: the
// application error's own message rather than the SDK's wrapping of it.
func Message(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	if err == nil {
		return ""
	}
	return err.Error()
}
