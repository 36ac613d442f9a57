package workflows

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/workflows/api"
)

// ghScript is a pull request's reviews as a test submits them on the workflow clock, and what
// the watch saw of them.
type ghScript struct {
	mu      sync.Mutex
	reviews []git.Review
	err     error // WatchReviews fails with it
	// watches counts WatchReviews calls, cancels the ones cancelled when the gate closed.
	watches, cancels int
}

// mockReviews answers WatchReviews as a watch that looks for a minute of workflow time and
// returns what is new, as the real one does.
func (s *promoteSuite) mockReviews() {
	s.gh = &ghScript{}
	s.env.OnActivity(ga.WatchReviews, mock.Anything, mock.Anything).Return(func(_ context.Context, in git.WatchReviewsInput) (git.WatchReviewsOutput, error) {
		s.gh.mu.Lock()
		defer s.gh.mu.Unlock()
		s.gh.watches++
		if s.gh.err != nil {
			return git.WatchReviewsOutput{}, s.gh.err
		}
		return git.SortReviews(s.gh.reviews, in.Proposal.Commit, in.Seen), nil
	}).After(time.Minute).Maybe()
	s.env.SetOnActivityCanceledListener(func(info *activity.Info) {
		if info.ActivityType.Name == "WatchReviews" {
			s.gh.mu.Lock()
			defer s.gh.mu.Unlock()
			s.gh.cancels++
		}
	})
}

// review has login submit a review of commit after that much workflow time.
func (s *promoteSuite) review(after time.Duration, login, state, commit string) {
	s.env.RegisterDelayedCallback(func() {
		s.gh.mu.Lock()
		defer s.gh.mu.Unlock()
		id := int64(100 + len(s.gh.reviews))
		s.gh.reviews = append(s.gh.reviews, git.Review{ID: id, Login: login, State: state, CommitID: commit, SubmittedAt: s.env.Now(),
			URL: fmt.Sprintf("https://github.com/alexpermiakov/idp/pull/7#pullrequestreview-%d", id)})
	}, after)
}

// ignored returns the reasons status gives for the ignored reviews of who.
func ignored(st api.Status, who string) []string {
	var out []string
	for _, s := range st.IgnoredSignals {
		if s.Who == who && s.Signal == api.SourceGitHubReview {
			out = append(out, s.Reason)
		}
	}
	return out
}

// TestAReviewApproves: bob approves the pull request on GitHub; where signatures are
// required, GitHub's authentication of bob-gh stands for one. carol's request for changes and
// an approval of another commit approve nothing and reject nothing.
func (s *promoteSuite) TestAReviewApproves() {
	pol := prod(1)
	pol.Approval.RequireSignatures = true
	s.path(staging(), pol)
	s.direct("staging", "c-stg")
	s.soaks("staging", "c-stg")
	s.proposed("c-prod")
	s.review(10*time.Minute, "carol-gh", git.ReviewChangesRequested, "branchsha")
	s.review(10*time.Minute, "carol-gh", git.ReviewApproved, "oldsha")
	s.env.RegisterDelayedCallback(func() {
		st := s.status()
		s.Equal(api.StageWaitingApproval, st.Stage, "changes requested do not reject")
		s.Equal("https://github.com/alexpermiakov/idp/pull/7", st.PendingApproval.Reviews)
		s.Empty(st.Approvals)
		reasons := ignored(st, "carol (github:carol-gh)")
		s.Require().Len(reasons, 2)
		s.Contains(reasons[0], "do not reject")
		s.Contains(reasons[1], "approves commit oldsha, not branchsha")
	}, 20*time.Minute)
	s.review(25*time.Minute, "Bob-GH", git.ReviewApproved, "branchsha")
	s.start("prod")
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Require().Len(st.Approvals, 1)
	d := st.Approvals[0]
	s.Equal("bob", d.Who)
	s.Equal(digest, d.Subject)
	s.True(d.Verified)
	s.Equal("github:bob-gh", d.Key)
	s.Equal(api.SourceGitHubReview, d.Source)
	s.Contains(d.Comment, "pullrequestreview-102")
	s.Equal(1, s.gh.cancels, "the watch ends when the gate closes")
}

// TestAReviewByAnUnmappedLoginApprovesNothing: mallory-gh is nobody in idp.yaml; bob approves
// with the CLI.
func (s *promoteSuite) TestAReviewByAnUnmappedLoginApprovesNothing() {
	s.path(staging(), prod(1))
	s.direct("staging", "c-stg")
	s.soaks("staging", "c-stg")
	s.proposed("c-prod")
	s.review(5*time.Minute, "mallory-gh", git.ReviewApproved, "branchsha")
	var bob *outcome
	s.env.RegisterDelayedCallback(func() {
		st := s.status()
		s.Empty(st.Approvals)
		s.Equal([]string{"GitHub login mallory-gh is not mapped to a person in idp.yaml (people.NAME.github), so the review approves nothing"},
			ignored(st, "github:mallory-gh"))
		bob = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: digest})
	}, 10*time.Minute)
	s.start("prod")
	s.True(bob.accepted)
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Require().Len(st.Approvals, 1)
	s.Empty(st.Approvals[0].Source)
}

// TestTheRequestersOwnReviewIsRefused: alice started the run; her review counts no more than
// her `starter approve` would under four-eyes.
func (s *promoteSuite) TestTheRequestersOwnReviewIsRefused() {
	s.path(staging(), prod(1))
	s.direct("staging", "c-stg")
	s.soaks("staging", "c-stg")
	s.proposed("c-prod")
	s.review(5*time.Minute, "alice-gh", git.ReviewApproved, "branchsha")
	s.env.RegisterDelayedCallback(func() {
		st := s.status()
		s.Empty(st.Approvals)
		reasons := ignored(st, "alice (github:alice-gh)")
		s.Require().Len(reasons, 1)
		s.Contains(reasons[0], "four-eyes: alice started this run and cannot approve it")
	}, 10*time.Minute)
	s.review(15*time.Minute, "carol-gh", git.ReviewApproved, "branchsha")
	s.start("prod")
	st := s.result()
	s.Require().Len(st.Approvals, 1)
	s.Equal("carol", st.Approvals[0].Who)
}

// TestAReviewAndACLIApprovalMakeAQuorum: bob approves on GitHub, then carol with the CLI; bob
// counts once, whichever way he approves again.
func (s *promoteSuite) TestAReviewAndACLIApprovalMakeAQuorum() {
	s.path(staging(), prod(2))
	s.direct("staging", "c-stg")
	s.soaks("staging", "c-stg")
	s.proposed("c-prod")
	s.review(5*time.Minute, "bob-gh", git.ReviewApproved, "branchsha")
	var bobAgain, carol *outcome
	s.env.RegisterDelayedCallback(func() {
		s.Equal(1, s.status().PendingApproval.Received)
		bobAgain = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: digest})
	}, 10*time.Minute)
	s.review(12*time.Minute, "bob-gh", git.ReviewApproved, "branchsha")
	s.env.RegisterDelayedCallback(func() {
		s.Equal([]string{"bob already approved " + digest + "; another approver is needed"}, ignored(s.status(), "bob (github:bob-gh)"))
		carol = s.update(api.ApproveUpdate, api.ApproveInput{Who: "carol", Subject: digest, Comment: "ok"})
	}, 20*time.Minute)
	s.start("prod")
	s.ErrorContains(bobAgain.refused, "bob already approved")
	s.True(carol.accepted)
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Require().Len(st.Approvals, 2)
	s.Equal([]string{"bob", "carol"}, []string{st.Approvals[0].Who, st.Approvals[1].Who})
	s.Equal(api.SourceGitHubReview, st.Approvals[0].Source)
	s.Empty(st.Approvals[1].Source)
}

// TestNoReviewsWithoutAPullRequest: plain Git proposes a branch without a pull request: there
// is nothing to watch. A provider that cannot list reviews says so in status, and the gate
// goes on with idp's own decisions.
func (s *promoteSuite) TestNoReviewsWithoutAPullRequest() {
	s.path(staging(), prod(1))
	s.direct("staging", "c-stg")
	s.soaks("staging", "c-stg")
	s.env.OnActivity(ga.WriteImage, mock.Anything, mock.MatchedBy(func(in git.WriteImageInput) bool { return in.Propose })).
		Return(git.WriteImageOutput{Commit: "branchsha", Proposal: &git.Proposal{Base: "main", Head: "idp/time-service-prod-v1.2.3", Commit: "branchsha"}}, nil).Once()
	s.env.OnActivity(ga.MergeProposal, mock.Anything, mock.Anything).Return(git.WriteImageOutput{Commit: "c-prod", Changed: true}, nil).Once()
	s.healthy("prod", "c-prod")
	s.env.RegisterDelayedCallback(func() {
		s.Empty(s.status().PendingApproval.Reviews)
		s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: digest})
	}, 10*time.Minute)
	s.start("prod")
	s.Equal(api.StageDone, s.result().Stage)
	s.Zero(s.gh.watches)
}

func (s *promoteSuite) TestAProviderWithoutReviewsSaysSo() {
	s.gh.err = fail.New(git.ErrNoReviews, "the repository's provider has no pull request reviews")
	s.path(staging(), prod(1))
	s.direct("staging", "c-stg")
	s.soaks("staging", "c-stg")
	s.proposed("c-prod")
	s.env.RegisterDelayedCallback(func() {
		s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: digest})
	}, 10*time.Minute)
	s.start("prod")
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Equal(1, s.gh.watches, "a non-retryable failure is not retried")
	s.Contains(st.Steps, "reviews of pull request #7 do not count: the repository's provider has no pull request reviews")
}
