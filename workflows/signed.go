package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/signature"
	"github.com/alexpermiakov/idp/workflows/api"
)

// maxClockSkew bounds how far a statement's signing time may be from the run's clock: an old
// signature is not replayed into a later gate, and a person signs what is pending now.
const maxClockSkew = 10 * time.Minute

// decision is an approval or a rejection in the one shape the gate checks.
type decision struct {
	Who, Subject, Decision, Comment, Signature string
	SignedAt                                   time.Time
	// Authenticated, instead of a signature, names who proved Who's identity: "github:<login>"
	// for an approving review GitHub authenticated. Only the gate's own review watch sets it;
	// no update or signal payload can.
	Authenticated string
}

func approveDecision(in api.ApproveInput) decision {
	return decision{Who: in.Who, Subject: in.Subject, Decision: "approve", Comment: in.Comment,
		Signature: in.Signature, SignedAt: in.SignedAt}
}

func rejectDecision(in api.RejectInput) decision {
	return decision{Who: in.Who, Subject: in.Subject, Decision: "reject", Comment: in.Reason,
		Signature: in.Signature, SignedAt: in.SignedAt}
}

// readKeys asks, when a gate opens, who may decide (groups resolved) and with which keys.
// Runs recorded before gates did this skip it, so their histories replay unchanged.
func readKeys(ctx workflow.Context, r *run, req gateRequest) (*platform.ApprovalKeysOutput, error) {
	if r.since(ctx, "approval-keys", 1) < 1 {
		return nil, nil
	}
	var pa *platform.Activities
	var out platform.ApprovalKeysOutput
	if err := r.quick(ctx, "approvers and keys for "+req.Env, time.Minute, pa.ApprovalKeys,
		platform.ApprovalKeysInput{Env: req.Env, Approvers: req.Policy.Approvers}).Get(ctx, &out); err != nil {
		return nil, fmt.Errorf("reading the approvers of %s: %w", req.Env, err)
	}
	return &out, nil
}

// allowed is the pending gate's approver list: resolved when the gate read it, else as the
// snapshot has it.
func (g *gate) allowed() []string {
	if g.keys != nil {
		return g.keys.Approvers
	}
	return g.req.Policy.Approvers
}

// signaturesRequired holds only where the gate has keys to check against.
func (g *gate) signaturesRequired() bool { return g.keys != nil && g.req.Policy.RequireSignatures }

// statement is what a decision's signature must cover.
func (g *gate) statement(d decision) signature.Statement {
	return signature.Statement{WorkflowID: g.run.status.WorkflowID, Env: g.req.Env, Decision: d.Decision,
		Subject: d.Subject, Comment: d.Comment, SignedAt: d.SignedAt}
}

// personKeys are the keys listed for who when the gate opened.
func (g *gate) personKeys(who string) []string {
	for _, p := range g.keys.People {
		if normalize(p.Name) == normalize(who) {
			return p.Keys
		}
	}
	return nil
}

// verify checks the decision's signature against who's keys and returns the key's
// fingerprint. It is pure, so the update handler can repeat it on replay.
func (g *gate) verify(d decision) (string, error) {
	return verifySigned(d.Who, g.personKeys(d.Who), g.statement(d), d.Signature, "decision")
}

// verifySigned checks an armored signature over st against who's key lines and returns the
// signing key's fingerprint; what ("decision", "request") names the statement in errors.
func verifySigned(who string, lines []string, st signature.Statement, sig, what string) (string, error) {
	if len(lines) == 0 {
		return "", fmt.Errorf("%s has no SSH key in idp.yaml (people.%s.keys): a signed %s cannot be checked", who, normalize(who), what)
	}
	// Parsing keys and checking a signature are pure computation; workflowcheck flags them
	// only because x/crypto/ssh's package also holds connection code with goroutines.
	keys, err := signature.ParseKeys(lines) //workflowcheck:ignore
	if err != nil {
		return "", fmt.Errorf("people.%s.keys in idp.yaml: %w", normalize(who), err)
	}
	k, err := signature.Verify(st, sig, keys) //workflowcheck:ignore
	switch {
	case errors.Is(err, signature.ErrNotSigner):
		return "", fmt.Errorf("the signature is not by a key of %s (%v): sign with your own key and your own name", who, err)
	case errors.Is(err, signature.ErrMismatch):
		return "", fmt.Errorf("the signature by %s's key is for another statement (run, env, decision, subject, comment or signing time differ): sign this %s again (%v)", who, what, err)
	case err != nil:
		return "", fmt.Errorf("the signature cannot be read: %w", err)
	}
	return signature.Fingerprint(k), nil
}

// checkSignature refuses an unsigned decision where signatures are required, a signature
// that does not verify, one made too far from now, and a key that already approved. A
// decision someone else authenticated (a GitHub review) stands for a signed one.
func (g *gate) checkSignature(now time.Time, d decision) (string, error) {
	if d.Authenticated != "" {
		return d.Authenticated, nil
	}
	if g.keys == nil {
		return "", nil
	}
	if d.Signature == "" {
		if g.signaturesRequired() {
			return "", fmt.Errorf("%s in %s needs a signed decision: pass --key FILE, set IDP_SIGNING_KEY, or load your key into ssh-agent", g.req.What, g.req.Env)
		}
		return "", nil
	}
	if skew := now.Sub(d.SignedAt); skew > maxClockSkew || skew < -maxClockSkew {
		return "", fmt.Errorf("the statement was signed at %s, more than %s from now (%s): sign again",
			d.SignedAt.UTC().Format(time.RFC3339), maxClockSkew, now.UTC().Format(time.RFC3339))
	}
	key, err := g.verify(d)
	if err != nil {
		return "", err
	}
	if g.req.Policy.FourEyes && key == g.run.status.RequesterKey {
		return "", fmt.Errorf("four-eyes: this key (%s) requested the run and cannot decide on it; ask another approver", key)
	}
	if d.Decision == "approve" {
		for _, used := range g.usedKeys {
			if used.key == key {
				return "", fmt.Errorf("key %s already approved %s as %s: one key counts once", key, short(g.req.Subject), used.who)
			}
		}
	}
	return key, nil
}

// usedKey is a key that signed an approval of the pending request, and the name it signed as.
type usedKey struct{ key, who string }

// signedBy is the fingerprint of the key that signed an accepted decision, or "": the update
// handler records it without the time check, which only the validator may make.
func (g *gate) signedBy(d decision) string {
	if g.keys == nil || d.Signature == "" {
		return ""
	}
	key, err := g.verify(d)
	if err != nil {
		return ""
	}
	return key
}
