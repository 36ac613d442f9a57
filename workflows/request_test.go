package workflows

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/crypto/ssh"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/signature"
	"github.com/alexpermiakov/idp/workflows/api"
)

// request is a bootstrap of staging asked for by who, signed with key, age before the test
// clock's now, over its statement as edit changes it; a nil key leaves it unsigned.
func (s *bootstrapSuite) request(who string, key ssh.Signer, age time.Duration, edit func(*signature.Statement)) api.BootstrapInput {
	in := api.BootstrapInput{Env: "staging", Requester: who}
	if key == nil {
		return in
	}
	in.SignedAt = s.env.Now().Add(-age).UTC().Truncate(time.Second)
	st := in.Statement(bootstrapID)
	if edit != nil {
		edit(&st)
	}
	sig, err := signature.Sign(st, key)
	s.Require().NoError(err)
	in.Signature = sig
	return in
}

// refusedRequest asserts the run failed at once, before Describe, as an unverified request.
func (s *bootstrapSuite) refusedRequest(msg string) {
	s.T().Helper()
	s.Require().True(s.env.IsWorkflowCompleted())
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	var app *temporal.ApplicationError
	s.Require().True(errors.As(err, &app), "%v", err)
	s.Equal(api.ErrUnverifiedRequest, app.Type())
	s.True(app.NonRetryable())
	s.Contains(app.Message(), msg)
	st := s.status()
	s.Equal(api.StageFailed, st.Stage)
	s.False(st.RequesterVerified)
	s.Empty(st.Commit, "nothing ran: Describe was not called")
}

func (s *bootstrapSuite) TestSignedRequestVerifiedAndItsKeyCannotApprove() {
	s.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: bootstrapID})
	k := s.keys("alice", "bob")
	// alice's key is listed under a second name by the time the gate opens (renamed, or a
	// config that validation would refuse): it still requested the run.
	s.people["dave"] = s.people["alice"]
	pol := approvalPolicy(1, "alice", "bob", "dave")
	pol.RequireSignatures = true
	s.mockUpToPlan(pol, plan(planSHA))
	s.mockApplyAndGrant(planSHA)
	var daveWithAlicesKey, alice, bob *outcome
	s.env.RegisterDelayedCallback(func() {
		st := s.status()
		s.True(st.RequesterVerified)
		s.Equal(signature.Fingerprint(k["alice"].PublicKey()), st.RequesterKey)
		daveWithAlicesKey = s.update(api.ApproveUpdate, s.signed("dave", k["alice"], nil))
		alice = s.update(api.ApproveUpdate, s.signed("alice", k["alice"], nil))
	}, time.Minute)
	s.env.RegisterDelayedCallback(func() {
		bob = s.update(api.ApproveUpdate, s.signed("bob", k["bob"], nil))
	}, 2*time.Minute)
	s.env.ExecuteWorkflow(api.BootstrapWorkflowName, s.request("alice", k["alice"], 0, nil))
	s.refused(daveWithAlicesKey, "four-eyes: this key ("+signature.Fingerprint(k["alice"].PublicKey())+") requested the run")
	s.refused(alice, "four-eyes: alice started this run")
	s.accepted(bob)
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Equal("alice (signed, "+signature.Fingerprint(k["alice"].PublicKey())+")", st.RequestedBy())
	s.Contains(st.Steps, "requested by alice, signed with "+signature.Fingerprint(k["alice"].PublicKey()))
	s.Require().Len(st.Approvals, 1)
	s.Equal("bob", st.Approvals[0].Who)
}

func (s *bootstrapSuite) TestBadRequestsFailAtOnce() {
	for name, c := range map[string]struct {
		who  string
		key  string // whose key signs; "" leaves the request unsigned
		age  time.Duration
		edit func(*signature.Statement)
		want string
	}{
		"forged: alice's name, mallory's key": {who: "alice", key: "mallory", want: "request refused: the signature is not by a key of alice"},
		"another env":                         {who: "alice", key: "alice", edit: func(st *signature.Statement) { st.Env, st.Subject = "prod", "prod" }, want: "is for another statement"},
		"another run":                         {who: "alice", key: "alice", edit: func(st *signature.Statement) { st.WorkflowID = "bootstrap-prod" }, want: "is for another statement"},
		"an approval, not a request":          {who: "alice", key: "alice", edit: func(st *signature.Statement) { st.Decision = "approve" }, want: "is for another statement"},
		"signed 11 minutes before the start":  {who: "alice", key: "alice", age: 11 * time.Minute, want: "more than 10m0s from the run's start"},
		"a person without keys":               {who: "erin", key: "mallory", want: "erin has no SSH key in idp.yaml"},
		"nobody named":                        {who: " ", want: "the request names no requester"},
	} {
		s.Run(name, func() {
			s.SetupTest()
			s.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: bootstrapID})
			k := s.keys("alice", "mallory")
			delete(s.people, "mallory")
			s.env.ExecuteWorkflow(api.BootstrapWorkflowName, s.request(c.who, k[c.key], c.age, c.edit))
			s.refusedRequest(c.want)
		})
	}
}

func (s *bootstrapSuite) TestUnsignedRequestIsMarkedAndNeedsSignedApprovals() {
	s.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: bootstrapID})
	k := s.keys("bob")
	pol := approvalPolicy(1, "bob")
	pol.RequireSignatures = true
	s.mockUpToPlan(pol, plan(planSHA))
	s.mockApplyAndGrant(planSHA)
	var unsigned, bob *outcome
	s.env.RegisterDelayedCallback(func() {
		s.Equal("ci (unsigned)", s.status().RequestedBy())
		unsigned = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: planSHA})
		bob = s.update(api.ApproveUpdate, s.signed("bob", k["bob"], nil))
	}, time.Minute)
	s.env.ExecuteWorkflow(api.BootstrapWorkflowName, s.request("ci", nil, 0, nil))
	s.refused(unsigned, "needs a signed decision")
	s.accepted(bob)
	st := s.result()
	s.False(st.RequesterVerified)
	s.Empty(st.RequesterKey)
	s.Contains(st.Steps, "requested by ci, unsigned")
}

// TestFourEyesNeedsARequester: a run that names no requester (started before requests were
// checked) refuses every decision under four-eyes rather than skipping it.
func TestFourEyesNeedsARequester(t *testing.T) {
	for _, requester := range []string{"", "  "} {
		g := &gate{run: &run{status: &api.Status{Requester: requester}},
			req: &gateRequest{Env: "staging", Subject: planSHA, What: "terraform plan", Policy: approvalPolicy(1)}}
		_, err := g.check(time.Now(), decision{Who: "bob", Subject: planSHA, Decision: "approve"})
		require.ErrorContains(t, err, "four-eyes: this run names no requester")
		g.req.Policy = config.Approval{Required: true, MinApprovals: 1}
		_, err = g.check(time.Now(), decision{Who: "bob", Subject: planSHA, Decision: "approve"})
		require.NoError(t, err, "without four-eyes there is nobody to compare")
	}
}

// promoteRequest is a promotion of time-service v1.2.3 to prod asked for by alice, signed with
// key over the statement for tag (v1.2.3 unless a test replays another one's signature).
func (s *promoteSuite) promoteRequest(key ssh.Signer, tag string) api.PromoteInput {
	in := api.PromoteInput{Service: "time-service", Tag: "v1.2.3", To: "staging", Requester: "alice",
		SignedAt: s.env.Now().UTC().Truncate(time.Second)}
	signed := in
	signed.Tag = tag
	sig, err := signature.Sign(signed.Statement(promoID), key)
	s.Require().NoError(err)
	in.Signature = sig
	return in
}

func (s *promoteSuite) TestSignedRequestBindsServiceAndTag() {
	alice := s.signer("alice")
	s.path(staging())
	s.direct("staging", "c-stg")
	s.env.ExecuteWorkflow(api.PromoteWorkflowName, s.promoteRequest(alice, "v1.2.3"))
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.True(st.RequesterVerified)
	s.Equal(signature.Fingerprint(alice.PublicKey()), st.RequesterKey)
}

func (s *promoteSuite) TestRequestSignedForAnotherTagIsRefused() {
	// A bare environment: the run must end before it asks for any lock or image.
	s.env = s.NewTestWorkflowEnvironment()
	s.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: promoID})
	s.env.RegisterWorkflowWithOptions(Promote, workflowOptions(api.PromoteWorkflowName))
	s.env.RegisterActivity(pa)
	mockApprovalKeys(s.env, func() map[string][]string { return s.people })
	alice := s.signer("alice")
	s.env.ExecuteWorkflow(api.PromoteWorkflowName, s.promoteRequest(alice, "v1.2.4"))
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, api.ErrUnverifiedRequest), "%v", err)
	s.ErrorContains(err, "the signature by alice's key is for another statement")
	s.Empty(s.status().Digest, "refused before the tag was resolved")
}

// signer generates a key for who and lists it in people.
func (s *promoteSuite) signer(who string) ssh.Signer {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	s.Require().NoError(err)
	k, err := ssh.NewSignerFromKey(priv)
	s.Require().NoError(err)
	s.people[who] = []string{string(ssh.MarshalAuthorizedKey(k.PublicKey()))}
	return k
}
