package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/metrics"
	"github.com/alexpermiakov/idp/workflows/api"
)

// gateRequest is one approval a workflow waits for.
type gateRequest struct {
	Env     string
	Subject string
	What    string
	Policy  config.Approval
}

// gate is the approval gate shared by bootstrap and promotion. It records decisions into the
// run's status and refuses, in the update validator, anything that must not be recorded.
type gate struct {
	run       *run
	req       *gateRequest
	approvers []string // who approved the pending request
	rejection *api.Decision
	// keys are the approvers and their keys, read when the gate opened; nil in runs recorded
	// before gates read them, which check the snapshot's list and take no signatures.
	keys *platform.ApprovalKeysOutput
	// usedKeys are the fingerprints that signed an approval of the pending request: one key
	// counts once, whatever names it is listed under.
	usedKeys []usedKey
	// abort, when set, ends a wait early with its error (a promotion superseded by a newer one).
	abort func() error
}

// newGate registers the approve/reject updates and the signal fallback.
func newGate(ctx workflow.Context, r *run) (*gate, error) {
	g := &gate{run: r}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, api.ApproveUpdate, g.approve,
		workflow.UpdateHandlerOptions{Validator: g.validateApprove}); err != nil {
		return nil, fmt.Errorf("registering %s update: %w", api.ApproveUpdate, err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, api.RejectUpdate, g.reject,
		workflow.UpdateHandlerOptions{Validator: g.validateReject}); err != nil {
		return nil, fmt.Errorf("registering %s update: %w", api.RejectUpdate, err)
	}
	approveCh := workflow.GetSignalChannel(ctx, api.ApproveSignal)
	rejectCh := workflow.GetSignalChannel(ctx, api.RejectSignal)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(approveCh, func(c workflow.ReceiveChannel, _ bool) {
				var in api.ApproveInput
				c.Receive(ctx, &in)
				if err := g.validateApprove(ctx, in); err != nil {
					g.ignore(ctx, in.Who, api.ApproveSignal, err)
					return
				}
				_, _ = g.approve(ctx, in)
			})
			sel.AddReceive(rejectCh, func(c workflow.ReceiveChannel, _ bool) {
				var in api.RejectInput
				c.Receive(ctx, &in)
				if err := g.validateReject(ctx, in); err != nil {
					g.ignore(ctx, in.Who, api.RejectSignal, err)
					return
				}
				_, _ = g.reject(ctx, in)
			})
			sel.Select(ctx)
		}
	})
	return g, nil
}

func normalize(who string) string { return strings.ToLower(strings.TrimSpace(who)) }

// check refuses a decision that must not be recorded; it reads state and never changes it.
// It returns the fingerprint of the key that signed the decision, or "" when unsigned.
func (g *gate) check(now time.Time, d decision) (string, error) {
	if g.req == nil {
		return "", errors.New("no approval is pending for this run")
	}
	who := normalize(d.Who)
	if who == "" {
		return "", errors.New("approver identity is empty: pass --as USER or set IDP_USER")
	}
	if approvers := g.allowed(); len(approvers) > 0 && !slices.ContainsFunc(approvers, func(a string) bool { return normalize(a) == who }) {
		return "", fmt.Errorf("%s may not approve in %s: approvers are %s", d.Who, g.req.Env, strings.Join(approvers, ", "))
	}
	if g.req.Policy.FourEyes && normalize(g.run.status.Requester) == "" {
		// Nobody could be told apart from the requester; runs since signed requests cannot get
		// here (they fail at once), runs started before refuse rather than skip four-eyes.
		return "", errors.New("four-eyes: this run names no requester, so no approver can be told apart from them; start it again with --as USER")
	}
	if g.req.Policy.FourEyes && who == normalize(g.run.status.Requester) {
		return "", fmt.Errorf("four-eyes: %s started this run and cannot approve it; ask another approver", strings.TrimSpace(d.Who))
	}
	if d.Subject == "" {
		return "", fmt.Errorf("no subject given: approvals bind to the pending %s %s", g.req.What, g.req.Subject)
	}
	if d.Subject != g.req.Subject {
		return "", fmt.Errorf("subject %s is not the pending %s %s (it changed since you looked: check status)", d.Subject, g.req.What, g.req.Subject)
	}
	if slices.Contains(g.approvers, who) {
		return "", fmt.Errorf("%s already approved %s; another approver is needed", d.Who, g.req.Subject)
	}
	return g.checkSignature(now, d)
}

func (g *gate) validateApprove(ctx workflow.Context, in api.ApproveInput) error {
	_, err := g.check(workflow.Now(ctx), approveDecision(in))
	return err
}

func (g *gate) validateReject(ctx workflow.Context, in api.RejectInput) error {
	if strings.TrimSpace(in.Reason) == "" {
		return errors.New("a rejection needs a reason (--reason)")
	}
	_, err := g.check(workflow.Now(ctx), rejectDecision(in))
	return err
}

func (g *gate) approve(ctx workflow.Context, in api.ApproveInput) (api.DecisionResult, error) {
	key := g.signedBy(approveDecision(in))
	g.approvers = append(g.approvers, normalize(in.Who))
	if key != "" {
		g.usedKeys = append(g.usedKeys, usedKey{key: key, who: in.Who})
	}
	g.record(ctx, in.Who, "approve", in.Comment, key)
	res := api.DecisionResult{Received: len(g.approvers), Needed: g.req.Policy.MinApprovals}
	res.Message = fmt.Sprintf("approval %d of %d recorded for %s", res.Received, res.Needed, g.req.Env)
	return res, nil
}

func (g *gate) reject(ctx workflow.Context, in api.RejectInput) (api.DecisionResult, error) {
	d := g.record(ctx, in.Who, "reject", in.Reason, g.signedBy(rejectDecision(in)))
	g.rejection = &d
	return api.DecisionResult{Received: len(g.approvers), Needed: g.req.Policy.MinApprovals,
		Message: fmt.Sprintf("rejected by %s: %s", in.Who, in.Reason)}, nil
}

func (g *gate) record(ctx workflow.Context, who, decision, comment, key string) api.Decision {
	d := api.Decision{Who: who, When: workflow.Now(ctx).UTC(), Decision: decision, Env: g.req.Env,
		Subject: g.req.Subject, Comment: comment, Verified: key != "", Key: key}
	st := g.run.status
	st.Approvals = append(st.Approvals, d)
	if st.PendingApproval != nil {
		st.PendingApproval.Received = len(g.approvers)
	}
	return d
}

func (g *gate) ignore(ctx workflow.Context, who, signal string, err error) {
	st := g.run.status
	st.IgnoredSignals = append(st.IgnoredSignals, api.IgnoredSignal{Who: who, When: workflow.Now(ctx).UTC(),
		Signal: signal, Reason: err.Error()})
	workflow.GetLogger(ctx).Warn("ignored approval signal", "who", who, "signal", signal, "reason", err.Error())
}

// wait opens the gate for req and blocks until enough approvals, a rejection or expiry.
func (g *gate) wait(ctx workflow.Context, req gateRequest) error {
	keys, err := readKeys(ctx, g.run, req)
	if err != nil {
		return err
	}
	g.req, g.approvers, g.rejection, g.keys, g.usedKeys = &req, nil, nil, keys, nil
	defer func() { g.req = nil; g.run.status.PendingApproval = nil }()
	expires := workflow.Now(ctx).Add(req.Policy.Expiry.Std()).UTC()
	approvers := g.allowed()
	if approvers == nil {
		approvers = []string{}
	}
	g.run.status.PendingApproval = &api.PendingApproval{Env: req.Env, Approvers: approvers, ExpiresAt: expires,
		Subject: req.Subject, What: req.What, MinApprovals: req.Policy.MinApprovals, FourEyes: req.Policy.FourEyes,
		RequireSignatures: g.signaturesRequired()}
	g.run.setStage(ctx, api.StageWaitingApproval)
	opened := workflow.Now(ctx)
	g.notifyOpened(ctx, req, expires, false)
	err = g.await(ctx, req, expires)
	g.notifyGate(ctx, req, err)
	metrics.Approval(workflow.GetMetricsHandler(ctx), g.run.status.Kind, req.Env, gateOutcome(err), workflow.Now(ctx).Sub(opened))
	return err
}

// await blocks until enough approvals, a rejection, an abort or expiry, and says which.
func (g *gate) await(ctx workflow.Context, req gateRequest, expires time.Time) error {
	aborted := func() error {
		if g.abort == nil {
			return nil
		}
		return g.abort()
	}
	decided := func() bool {
		return g.rejection != nil || len(g.approvers) >= req.Policy.MinApprovals || aborted() != nil
	}
	done, err := g.remind(ctx, req, expires, decided)
	if err == nil && !done {
		// The same timer AwaitWithTimeout starts, named for the Web UI's timeline.
		done, err = workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{Timeout: expires.Sub(workflow.Now(ctx)),
			TimerOptions: workflow.TimerOptions{Summary: approvalSummary(g.run.status.WorkflowID, req, len(g.approvers), expires)}}, decided)
	}
	if err != nil {
		return err
	}
	if err := aborted(); err != nil {
		return err
	}
	if g.rejection != nil {
		return fail.New(fail.Rejected, "%s rejected the %s %s in %s: %s", g.rejection.Who, req.What,
			short(req.Subject), req.Env, g.rejection.Comment)
	}
	if !done {
		return fail.New(fail.ApprovalExpired, "approval of %s %s in %s expired at %s with %d of %d approvals",
			req.What, short(req.Subject), req.Env, expires.Format("2006-01-02T15:04:05Z"), len(g.approvers), req.Policy.MinApprovals)
	}
	return nil
}

// short abbreviates a sha256 or digest for messages.
func short(s string) string {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
