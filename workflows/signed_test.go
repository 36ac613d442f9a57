package workflows

import (
	"crypto/ed25519"
	"crypto/rand"
	"time"

	"go.temporal.io/sdk/client"
	"golang.org/x/crypto/ssh"

	"github.com/alexpermiakov/idp/internal/signature"
	"github.com/alexpermiakov/idp/workflows/api"
)

const bootstrapID = "bootstrap-staging"

// keyring is a set of people with generated ed25519 keys.
type keyring map[string]ssh.Signer

func (s *bootstrapSuite) keys(names ...string) keyring {
	k := keyring{}
	for _, n := range names {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		s.Require().NoError(err)
		signer, err := ssh.NewSignerFromKey(priv)
		s.Require().NoError(err)
		k[n] = signer
		s.people[n] = []string{string(ssh.MarshalAuthorizedKey(signer.PublicKey()))}
	}
	return k
}

// signed is an approval by who, signed with key over the statement st (by default the one
// the pending gate expects, signed now).
func (s *bootstrapSuite) signed(who string, key ssh.Signer, edit func(*signature.Statement)) api.ApproveInput {
	st := signature.Statement{WorkflowID: bootstrapID, Env: "staging", Decision: "approve", Subject: planSHA,
		Comment: "ok", SignedAt: s.env.Now()}
	if edit != nil {
		edit(&st)
	}
	sig, err := signature.Sign(st, key)
	s.Require().NoError(err)
	return api.ApproveInput{Who: who, Subject: planSHA, Comment: "ok", Signature: sig, SignedAt: st.SignedAt}
}

func (s *bootstrapSuite) TestSignedApprovals() {
	s.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: bootstrapID})
	k := s.keys("alice", "bob", "carol")
	s.people["dave"] = s.people["bob"] // one key under two names
	pol := approvalPolicy(2, "alice", "bob", "carol", "dave")
	pol.RequireSignatures = true
	s.mockUpToPlan(pol, plan(planSHA))
	s.mockApplyAndGrant(planSHA)
	var unsigned, forged, otherRun, otherSubject, otherDecision, old, bob, daveWithBobsKey, carol *outcome
	s.env.RegisterDelayedCallback(func() {
		st := s.status()
		s.True(st.PendingApproval.RequireSignatures)
		unsigned = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: planSHA})
		forged = s.update(api.ApproveUpdate, s.signed("bob", k["carol"], nil))
		otherRun = s.update(api.ApproveUpdate, s.signed("bob", k["bob"], func(st *signature.Statement) { st.WorkflowID = "bootstrap-prod" }))
		otherSubject = s.update(api.ApproveUpdate, s.signed("bob", k["bob"], func(st *signature.Statement) { st.Subject = newSHA }))
		otherDecision = s.update(api.ApproveUpdate, s.signed("bob", k["bob"], func(st *signature.Statement) { st.Decision = "reject" }))
		old = s.update(api.ApproveUpdate, s.signed("bob", k["bob"], func(st *signature.Statement) { st.SignedAt = st.SignedAt.Add(-11 * time.Minute) }))
		s.env.SignalWorkflow(api.ApproveSignal, s.signed("carol", k["alice"], nil))
		bob = s.update(api.ApproveUpdate, s.signed("bob", k["bob"], nil))
	}, time.Minute)
	s.env.RegisterDelayedCallback(func() {
		daveWithBobsKey = s.update(api.ApproveUpdate, s.signed("dave", k["bob"], nil))
	}, 2*time.Minute)
	s.env.RegisterDelayedCallback(func() {
		st := s.status()
		s.Len(st.Approvals, 1, "refused decisions record nothing")
		s.Require().Len(st.IgnoredSignals, 1)
		s.Contains(st.IgnoredSignals[0].Reason, "not by a key of carol")
		carol = s.update(api.ApproveUpdate, s.signed("carol", k["carol"], nil))
	}, 3*time.Minute)
	s.start("alice")
	s.refused(unsigned, "needs a signed decision")
	s.refused(forged, "the signature is not by a key of bob")
	for _, o := range []*outcome{otherRun, otherSubject, otherDecision} {
		s.refused(o, "is for another statement")
	}
	s.refused(old, "more than 10m0s from now")
	s.accepted(bob)
	s.refused(daveWithBobsKey, "already approved "+planSHA[:12]+" as bob: one key counts once")
	s.accepted(carol)
	st := s.result()
	s.Require().Len(st.Approvals, 2)
	for i, who := range []string{"bob", "carol"} {
		s.Equal(who, st.Approvals[i].Who)
		s.True(st.Approvals[i].Verified)
		s.Equal(signature.Fingerprint(k[who].PublicKey()), st.Approvals[i].Key)
	}
}

// TestUnsignedAllowedWhereNotRequired: CI and people without keys still decide where the
// policy allows it; their decisions are recorded as unverified.
func (s *bootstrapSuite) TestUnsignedAllowedWhereNotRequired() {
	s.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: bootstrapID})
	k := s.keys("bob", "carol")
	s.mockUpToPlan(approvalPolicy(2, "alice", "bob", "carol"), plan(planSHA))
	s.mockApplyAndGrant(planSHA)
	var bob, carol, selfSigned *outcome
	s.env.RegisterDelayedCallback(func() {
		s.False(s.status().PendingApproval.RequireSignatures)
		bob = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: planSHA})
		selfSigned = s.update(api.ApproveUpdate, s.signed("alice", k["carol"], nil))
		carol = s.update(api.ApproveUpdate, s.signed("carol", k["carol"], nil))
	}, time.Minute)
	s.start("alice")
	s.accepted(bob)
	s.refused(selfSigned, "four-eyes")
	s.accepted(carol)
	st := s.result()
	s.Require().Len(st.Approvals, 2)
	s.False(st.Approvals[0].Verified)
	s.Empty(st.Approvals[0].Key)
	s.True(st.Approvals[1].Verified)
}
