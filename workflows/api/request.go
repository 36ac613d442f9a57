package api

import (
	"github.com/alexpermiakov/idp/internal/signature"
)

// ErrUnverifiedRequest is the failure type of a run whose request names nobody, or whose
// signature is not the named requester's over this very request: the run fails at once,
// before it does anything.
const ErrUnverifiedRequest = "UnverifiedRequest"

// Statement is what the requester of a bootstrap signs: the run, the env (which is also the
// subject) and the signing time.
func (in BootstrapInput) Statement(workflowID string) signature.Statement {
	return signature.Statement{WorkflowID: workflowID, Env: in.Env, Decision: signature.DecisionRequest,
		Subject: in.Env, SignedAt: in.SignedAt}
}

// Statement is what the requester of a promotion signs: the run, the env as asked (To, empty
// for "as far as policy allows": the path itself is the worker's idp.yaml's to decide), the
// subject "service:tag" (the digest is not known before the run resolves it), "supersede" as
// the comment when the request asks older runs to step aside, and the signing time.
func (in PromoteInput) Statement(workflowID string) signature.Statement {
	comment := ""
	if in.Supersede {
		comment = "supersede"
	}
	return signature.Statement{WorkflowID: workflowID, Env: in.To, Decision: signature.DecisionRequest,
		Subject: in.Service + ":" + in.Tag, Comment: comment, SignedAt: in.SignedAt}
}
