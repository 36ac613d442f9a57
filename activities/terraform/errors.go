package terraform

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/alexpermiakov/idp/internal/fail"
)

// PlanStaleError is terraform refusing a saved plan because the state changed after the plan
// was made (another apply ran in between). Only a new plan, approved again, can go ahead.
type PlanStaleError struct {
	// Err is terraform's failure as terraform-exec returned it.
	Err error
}

func (e *PlanStaleError) Error() string { return e.Err.Error() }

// Unwrap returns terraform's failure.
func (e *PlanStaleError) Unwrap() error { return e.Err }

// StateLockedError is terraform failing to take the env's state lock because another run
// holds it. The lock goes when that run ends, so a retry may succeed.
type StateLockedError struct {
	// Err is terraform's failure as terraform-exec returned it.
	Err error
}

func (e *StateLockedError) Error() string { return e.Err.Error() }

// Unwrap returns terraform's failure.
func (e *StateLockedError) Unwrap() error { return e.Err }

// UnreachableError is terraform, its S3 backend or a provider failing to reach an API
// (connection refused, timeout). A retry may succeed.
type UnreachableError struct {
	// Err is terraform's failure as terraform-exec returned it.
	Err error
}

func (e *UnreachableError) Error() string { return e.Err.Error() }

// Unwrap returns terraform's failure.
func (e *UnreachableError) Unwrap() error { return e.Err }

// The terraform messages recognize looks for. Terraform has no machine-readable error codes:
// its CLI prints diagnostics as text on stderr, and its -json UI carries the same text in a
// diagnostic's summary and detail. terraform-exec (v0.26) adds no structure either: a failed
// command comes back as *exec.ExitError followed by terraform's stderr, and its only typed
// errors are about the binary, its version and the environment. So these strings are the
// contract: terraform's own wording through 1.x (checked against 1.11), and the AWS SDK's for
// the network.
const (
	// staleMessage is the summary of terraform apply's diagnostic for a saved plan whose state
	// serial or lineage no longer matches the current state.
	staleMessage = "Saved plan is stale"
	// lockMessage heads the diagnostic of any command that could not take the state lock.
	lockMessage = "Error acquiring the state lock"
)

// deniedMessages are AWS refusing the credentials terraform runs with, as the provider and
// the S3 backend print the SDK's error: "api error AccessDenied: User: ... is not authorized".
var deniedMessages = []string{"api error AccessDenied", "api error AccessDeniedException", "api error UnauthorizedOperation"}

// deniedHint says what to fix after AWS's own message.
const deniedHint = "idp's credentials for this account may not do this: allow the action in the policy of the role " +
	"environments[].aws.assumeRole names in idp.yaml (of the worker's own credentials when it names none), then start again"

// unreachableMessages are network failures as the backend and providers print them.
var unreachableMessages = []string{"connection refused", "RequestError", "i/o timeout"}

// recognize is the one place that reads terraform's text: it returns a *PlanStaleError,
// *StateLockedError or *UnreachableError around err when err's message (terraform's stderr,
// or the diagnostics of terraform apply -json that Apply appends) carries the matching
// message, and err unchanged otherwise.
func recognize(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, staleMessage):
		return &PlanStaleError{Err: err}
	case strings.Contains(msg, lockMessage):
		return &StateLockedError{Err: err}
	}
	for _, m := range unreachableMessages {
		if strings.Contains(msg, m) {
			return &UnreachableError{Err: err}
		}
	}
	return err
}

// classify turns terraform's failures into errors a workflow can act on. Configuration and
// provider errors will not go away on a retry; a held state lock or a network failure may.
func classify(err error, format string, args ...any) error {
	err = recognize(err)
	var (
		stale       *PlanStaleError
		locked      *StateLockedError
		unreachable *UnreachableError
		netErr      net.Error
	)
	switch {
	case errors.As(err, &stale):
		return fail.Wrap(fail.StalePlan, err, format, args...)
	case slices.ContainsFunc(deniedMessages, func(m string) bool { return strings.Contains(err.Error(), m) }):
		return fail.Wrap(fail.AccessDenied, fmt.Errorf("%s (%s)", lastDiagnostic(err.Error()), deniedHint), format, args...)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &locked), errors.As(err, &unreachable), errors.As(err, &netErr):
		return fmt.Errorf(format+": %w", append(args, err)...)
	default:
		return fail.Wrap(fail.Terraform, errors.New(lastDiagnostic(err.Error())), format, args...)
	}
}

// lastDiagnostic keeps terraform's "Error: ..." lines, which say what went wrong, and drops
// the usage noise around them.
func lastDiagnostic(msg string) string {
	var keep []string
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(strings.Trim(line, "│╷╵ "))
		if line != "" {
			keep = append(keep, line)
		}
	}
	if len(keep) > 12 {
		keep = keep[:12]
	}
	return strings.Join(keep, " ")
}
