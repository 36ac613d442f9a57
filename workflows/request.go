package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/signature"
	"github.com/alexpermiakov/idp/workflows/api"
)

// signedRequest is what a run checks about who asked for it: the named requester, their
// signature (empty when unsigned) and the statement it must cover.
type signedRequest struct {
	Requester, Signature string
	Statement            signature.Statement
}

// checkRequest, first thing in a run, refuses a request that names nobody, and verifies a
// signed one against the requester's keys (read by an activity, so replays check against the
// same keys): a signature not by the named person's key, over another statement, or made too
// far from the run's start fails the run at once. An unsigned request (CI) is recorded as
// such; four-eyes then compares names, and gates that require signatures still take only
// signed approvals. Runs started before requests were checked replay without it.
func checkRequest(ctx workflow.Context, r *run, req signedRequest) error {
	if r.since(ctx, "signed-request", 1) < 1 {
		return nil
	}
	who := normalize(req.Requester)
	if who == "" {
		return fail.New(api.ErrUnverifiedRequest, "the request names no requester, so four-eyes could not tell them from an approver: start it again with --as USER (or IDP_USER set)")
	}
	if req.Signature == "" {
		r.step(ctx, "requested by %s, unsigned", req.Requester)
		return nil
	}
	started, at := workflow.GetInfo(ctx).WorkflowStartTime, req.Statement.SignedAt
	if skew := started.Sub(at); skew > maxClockSkew || skew < -maxClockSkew {
		return fail.New(api.ErrUnverifiedRequest, "the request by %s was signed at %s, more than %s from the run's start (%s): sign it again",
			req.Requester, at.UTC().Format(time.RFC3339), maxClockSkew, started.UTC().Format(time.RFC3339))
	}
	var pa *platform.Activities
	var keys platform.PersonKeys
	if err := r.quick(ctx, "keys of "+who, time.Minute,
		pa.RequesterKeys, platform.RequesterKeysInput{Name: who}).Get(ctx, &keys); err != nil {
		return fmt.Errorf("reading the keys of %s: %w", who, err)
	}
	key, err := verifySigned(req.Requester, keys.Keys, req.Statement, req.Signature, "request")
	if err != nil {
		return fail.New(api.ErrUnverifiedRequest, "request refused: %v", err)
	}
	r.status.RequesterVerified, r.status.RequesterKey = true, key
	r.step(ctx, "requested by %s, signed with %s", req.Requester, key)
	return nil
}
