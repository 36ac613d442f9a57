package workflows

import (
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestATagMovedDuringTheApprovalWaitIsNotMerged: the tag is pushed over while prod waits
// for its approval; the approval is recorded, but the proposal is never merged (MergeProposal
// is not mocked, so a merge would fail the test) and the run says the tag moved.
func (s *promoteSuite) TestATagMovedDuringTheApprovalWaitIsNotMerged() {
	// Resolved when the run starts, before staging, before prod; the fourth, after the
	// approval, answers another digest.
	s.movedAfter = 3
	s.path(staging(), prod(1))
	s.direct("staging", "c-stg")
	s.soaks("staging", "c-stg")
	s.env.OnActivity(ga.WriteImage, mock.Anything, mock.MatchedBy(func(in git.WriteImageInput) bool { return in.Propose })).
		Return(git.WriteImageOutput{Commit: "branchsha", Proposal: &git.Proposal{Head: "idp/time-service-prod-v1.2.3", Commit: "branchsha"}}, nil).Once()
	var bob *outcome
	s.env.RegisterDelayedCallback(func() {
		s.Equal(3, s.resolved, "the tag was still the approved digest when prod's gate opened")
		bob = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: digest})
	}, time.Hour/2)
	s.start("prod")
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, api.ErrRetagged), "%v", err)
	s.ErrorContains(err, "refusing to promote a moved tag into prod")
	s.True(bob.accepted)
	s.Equal(4, s.resolved)
	st := s.status()
	s.Equal(api.EnvFailed, st.Environments[1].State)
	s.Empty(st.Environments[1].Commit, "nothing landed in prod")
}
