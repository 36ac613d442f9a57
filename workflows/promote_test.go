package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/metrics"
	"github.com/alexpermiakov/idp/internal/observe"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

const (
	digest  = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	tagged  = "864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:v1.2.3"
	image   = tagged + "@" + digest // as manifests pin it
	oldImg  = "864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:v1.2.2"
	promoID = "promote-time-service-v1.2.3"
)

var (
	ga *git.Activities
	ea *aws.Activities
	sa *platform.Signaller
)

type promoteSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment
	// movedAfter, when set, makes ECR answer another digest for the tag after that many
	// resolutions: someone pushed over it.
	movedAfter, resolved int
	// people are the keys ApprovalKeys answers with.
	people map[string][]string
	// gh is the pull request's reviews as WatchReviews finds them.
	gh *ghScript
	// metrics receives what the workflow records, as the worker's registry does.
	metrics *observe.Metrics
	// door answers a run at an env's door; nil opens every door.
	door func(env string) controls.DoorAnswer
	// pins are the pins the run asked for (after a rollback).
	pins []platform.PinInput
}

func TestPromote(t *testing.T) { suite.Run(t, new(promoteSuite)) }

func (s *promoteSuite) SetupTest() {
	s.metrics = newMetrics(s.T())
	s.SetMetricsHandler(s.metrics.Handler)
	s.env = s.NewTestWorkflowEnvironment()
	// The 1 s default flags a slow machine (CI runs every package at once, under -race) as a
	// deadlock; a workflow that really never yields still fails, later.
	s.env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: 30 * time.Second})
	s.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: promoID})
	s.env.RegisterWorkflowWithOptions(Promote, workflowOptions(api.PromoteWorkflowName))
	for _, a := range []any{pa, ar, ga, ea, sa} {
		s.env.RegisterActivity(a)
	}
	// The lock grants at once; releases are accepted.
	s.door, s.pins = nil, nil
	s.env.OnActivity(sa.SignalWithStart, mock.Anything, mock.Anything).Return(func(_ context.Context, in platform.SignalWithStartInput) error {
		if in.WorkflowType == controls.WorkflowName {
			s.answerDoor(in)
			return nil
		}
		key := lockKey(in)
		s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(api.LockGrantedSignal, LockGrant{Key: key}) }, time.Millisecond)
		return nil
	})
	s.env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", api.LockReleaseSignal, mock.Anything).Return(nil)
	s.movedAfter, s.resolved = 0, 0
	s.env.OnActivity(ea.ResolveImage, mock.Anything, mock.Anything).Return(func(context.Context, aws.ResolveInput) (aws.ResolveOutput, error) {
		s.resolved++
		if s.movedAfter > 0 && s.resolved > s.movedAfter {
			return aws.ResolveOutput{Repository: "idp/localtime", Image: tagged, Digest: "sha256:2222222222222222222222222222222222222222222222222222222222222222"}, nil
		}
		return aws.ResolveOutput{Repository: "idp/localtime", Image: tagged, Digest: digest}, nil
	}).Maybe()
	s.env.OnActivity(ar.RefreshApp, mock.Anything, mock.Anything).Return(nil).Maybe()
	// What each env runs before the promotion writes: what a rollback restores.
	s.env.OnActivity(pa.CurrentImage, mock.Anything, mock.Anything).Return(platform.ImageOutput{Image: oldImg, Commit: "c-before"}, nil).Maybe()
	s.people = map[string][]string{}
	mockApprovalKeys(s.env, func() map[string][]string { return s.people })
	s.mockReviews()
	s.env.OnActivity(sa.Pin, mock.Anything, mock.Anything).Return(func(_ context.Context, in platform.PinInput) error {
		s.pins = append(s.pins, in)
		return nil
	}).Maybe()
}

func (s *promoteSuite) AfterTest(_, _ string) { s.env.AssertExpectations(s.T()) }

// teamChannel is a notify target that wants every event.
var teamChannel = []config.NotifyTarget{{Name: "team", URLFrom: "env:TEAM_WEBHOOK"}}

func staging() policy.Env {
	return policy.Env{Name: "staging", App: "time-service-staging", Root: "staging-apps", Soak: time.Minute, HealthTimeout: 3 * time.Minute,
		Snapshot: config.Snapshot{Env: config.Environment{Name: "staging", Notify: teamChannel}},
		Approval: config.Approval{MinApprovals: 1, Expiry: config.Duration(time.Hour)}}
}

func prod(min int) policy.Env {
	return policy.Env{Name: "prod", App: "time-service-prod", Root: "prod-apps", HealthTimeout: 3 * time.Minute, Propose: true, RequirePassed: "staging",
		Snapshot:       config.Snapshot{Env: config.Environment{Name: "prod", Notify: teamChannel}},
		PassedSnapshot: &config.Snapshot{Env: config.Environment{Name: "staging"}},
		Approval:       config.Approval{Required: true, FourEyes: true, MinApprovals: min, Approvers: []string{"alice", "bob", "carol"}, Expiry: config.Duration(time.Hour)}}
}

// path mocks the promotion's path; no env is frozen unless frozen names it.
func (s *promoteSuite) path(envs ...policy.Env) {
	s.pathFrozen("", envs...)
}

func (s *promoteSuite) pathFrozen(frozen string, envs ...policy.Env) {
	s.env.OnActivity(pa.PlanPromotion, mock.Anything, mock.Anything).Return(platform.PromotionOutput{Envs: envs}, nil).Once()
	s.env.OnActivity(pa.CheckFreeze, mock.Anything, mock.Anything).Return(func(_ context.Context, in platform.FreezeInput) (platform.FreezeOutput, error) {
		return platform.FreezeOutput{Frozen: in.Env == frozen}, nil
	})
}

// direct mocks a direct commit of the image into env and Argo CD reporting it Healthy.
func (s *promoteSuite) direct(env, commit string) {
	s.env.OnActivity(ga.WriteImage, mock.Anything, mock.MatchedBy(func(in git.WriteImageInput) bool {
		return in.Env == env && !in.Propose && in.Image == image
	})).Return(git.WriteImageOutput{Commit: commit, Changed: true, Previous: oldImg}, nil).Once()
	s.healthy(env, commit)
}

// healthy mocks Argo CD reporting env's app-of-apps, then the app running the image, Healthy
// at the commit (one wait).
func (s *promoteSuite) healthy(env, commit string) {
	s.env.OnActivity(ar.WaitApp, mock.Anything, mock.MatchedBy(func(in argocd.WaitAppInput) bool {
		return in.Snapshot.Env.Name == env && in.Commit == commit && in.Root == env+"-apps" && in.App == "time-service-"+env && in.Image != ""
	})).Return(argocd.WaitAppOutput{Status: argocd.AppStatus{Sync: "Synced", Health: "Healthy"}}, nil).Once()
}

// soaks mocks env's Application staying Healthy at the commit, running the image, for the soak.
func (s *promoteSuite) soaks(env, commit string) {
	s.env.OnActivity(ar.Soak, mock.Anything, mock.MatchedBy(func(in argocd.SoakInput) bool {
		return in.Snapshot.Env.Name == env && in.Commit == commit && in.Image == image && in.App == "time-service-"+env
	})).Return(argocd.SoakOutput{Status: argocd.AppStatus{Sync: "Synced", Health: "Healthy"}}, nil).Once()
}

// proposed mocks prod's branch, its merge after approval, and Argo CD reporting it Healthy.
func (s *promoteSuite) proposed(commit string) {
	prop := git.Proposal{Base: "main", Head: "idp/time-service-prod-v1.2.3", Commit: "branchsha", Number: 7, URL: "https://github.com/alexpermiakov/idp/pull/7"}
	s.env.OnActivity(ga.WriteImage, mock.Anything, mock.MatchedBy(func(in git.WriteImageInput) bool {
		return in.Env == "prod" && in.Propose && in.Head == prop.Head
	})).Return(git.WriteImageOutput{Commit: "branchsha", Changed: true, Previous: oldImg, Proposal: &prop}, nil).Once()
	s.env.OnActivity(ga.MergeProposal, mock.Anything, mock.MatchedBy(func(in git.MergeInput) bool {
		return in.Proposal.Number == 7
	})).Return(git.WriteImageOutput{Commit: commit, Changed: true}, nil).Once()
	s.healthy("prod", commit)
}

func (s *promoteSuite) start(to string) {
	s.env.ExecuteWorkflow(api.PromoteWorkflowName, api.PromoteInput{Service: "time-service", Tag: "v1.2.3", To: to, Requester: "alice"})
}

func (s *promoteSuite) result() api.Status {
	var st api.Status
	s.Require().NoError(s.env.GetWorkflowResult(&st))
	return st
}

func (s *promoteSuite) status() api.Status {
	v, err := s.env.QueryWorkflow(api.StatusQuery)
	s.Require().NoError(err)
	var st api.Status
	s.Require().NoError(v.Get(&st))
	return st
}

func (s *promoteSuite) update(name string, arg any) *outcome {
	o := &outcome{}
	s.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnAccept: func() { o.accepted = true }, OnReject: func(err error) { o.refused = err }, OnComplete: func(any, error) {},
	}, arg)
	return o
}

func (s *promoteSuite) TestDevOnly() {
	dev := staging()
	dev.Name, dev.App, dev.Root, dev.Snapshot.Env.Name = "dev", "time-service-dev", "dev-apps", "dev"
	s.path(dev)
	s.direct("dev", "c-dev")
	s.start("")
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Equal(digest, st.Digest)
	s.Equal([]api.EnvStatus{{Name: "dev", State: "done", Image: image, Commit: "c-dev", Previous: oldImg}}, st.Environments)
	s.Equal([]string{"env=dev,service=time-service,outcome=succeeded 1"}, s.outcomes())
	s.Equal([]string{"env=dev,service=time-service 1"}, counted(s.T(), s.metrics, metrics.LeadTime+"_count", "env", "service"))
}

func (s *promoteSuite) TestStagingGoesByItself() {
	s.path(staging())
	s.direct("staging", "c-stg")
	s.start("")
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Empty(st.Approvals)
}

func (s *promoteSuite) TestProdWaitsForApprovalBoundToTheDigest() {
	s.path(staging(), prod(2))
	s.direct("staging", "c-stg")
	s.soaks("staging", "c-stg")
	s.proposed("c-prod")
	var self, wrong, unlisted, bob, bobAgain, carol *outcome
	s.env.RegisterDelayedCallback(func() {
		st := s.status()
		s.Equal(api.StageWaitingApproval, st.Stage)
		s.Require().NotNil(st.PendingApproval)
		s.Equal("prod", st.PendingApproval.Env)
		s.Equal(digest, st.PendingApproval.Subject)
		s.Equal(api.EnvDone, st.Environments[0].State, "staging went by itself")
		self = s.update(api.ApproveUpdate, api.ApproveInput{Who: "alice", Subject: digest})
		wrong = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: "sha256:2222"})
		unlisted = s.update(api.ApproveUpdate, api.ApproveInput{Who: "mallory", Subject: digest})
		bob = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: digest})
	}, time.Hour/2)
	s.env.RegisterDelayedCallback(func() {
		bobAgain = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: digest})
		carol = s.update(api.ApproveUpdate, api.ApproveInput{Who: "carol", Subject: digest, Comment: "release notes read"})
	}, time.Hour/2+time.Minute)
	s.start("prod")
	for o, msg := range map[**outcome]string{&self: "four-eyes", &wrong: "is not the pending image digest", &unlisted: "mallory may not approve in prod", &bobAgain: "bob already approved"} {
		s.Require().NotNil(*o)
		s.False((*o).accepted)
		s.ErrorContains((*o).refused, msg)
	}
	s.True(bob.accepted)
	s.True(carol.accepted)
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Len(st.Approvals, 2)
	s.Equal("c-prod", st.Environments[1].Commit)
	s.Equal(image, st.Environments[1].Image)
	s.Equal([]string{"env=prod,service=time-service,outcome=succeeded 1", "env=staging,service=time-service,outcome=succeeded 1"}, s.outcomes())
	// the soak stub returns at once, so the gate opened at the start; carol's approval came at 31 minutes
	s.Equal(31*time.Minute, seconds(s.T(), s.metrics, metrics.ApprovalWait, map[string]string{"kind": "promote", "env": "prod", "outcome": "approved"}).Round(time.Minute))
	s.Equal(31*time.Minute, seconds(s.T(), s.metrics, metrics.LeadTime, map[string]string{"env": "prod", "service": "time-service"}).Round(time.Minute))
	s.Less(seconds(s.T(), s.metrics, metrics.LeadTime, map[string]string{"env": "staging"}), time.Minute, "Healthy in staging before its soak")
	s.Empty(counted(s.T(), s.metrics, metrics.Rollbacks))
}

func (s *promoteSuite) TestProdRejected() {
	s.path(staging(), prod(1))
	s.direct("staging", "c-stg")
	s.soaks("staging", "c-stg")
	s.env.OnActivity(ga.WriteImage, mock.Anything, mock.MatchedBy(func(in git.WriteImageInput) bool { return in.Propose })).
		Return(git.WriteImageOutput{Commit: "branchsha", Proposal: &git.Proposal{Head: "h"}}, nil).Once()
	s.env.RegisterDelayedCallback(func() {
		s.update(api.RejectUpdate, api.RejectInput{Who: "carol", Subject: digest, Reason: "not during the sale"})
	}, time.Hour/2)
	s.start("prod")
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, fail.Rejected))
	s.ErrorContains(err, "not during the sale")
	s.Equal([]string{"env=prod,service=time-service,outcome=rejected 1", "env=staging,service=time-service,outcome=succeeded 1"}, s.outcomes())
	s.Equal([]string{"env=prod,outcome=rejected 1"}, counted(s.T(), s.metrics, metrics.ApprovalWait+"_count", "env", "outcome"))
}

func (s *promoteSuite) TestProdApprovalExpires() {
	s.path(staging(), prod(1))
	s.direct("staging", "c-stg")
	s.soaks("staging", "c-stg")
	s.env.OnActivity(ga.WriteImage, mock.Anything, mock.MatchedBy(func(in git.WriteImageInput) bool { return in.Propose })).
		Return(git.WriteImageOutput{Commit: "branchsha", Proposal: &git.Proposal{Head: "h"}}, nil).Once()
	s.start("prod")
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, fail.ApprovalExpired))
	s.Equal([]string{"env=prod,service=time-service,outcome=expired 1", "env=staging,service=time-service,outcome=succeeded 1"}, s.outcomes())
	s.Equal(time.Hour, seconds(s.T(), s.metrics, metrics.ApprovalWait, map[string]string{"env": "prod", "outcome": "expired"}))
}

func (s *promoteSuite) TestDegradedIsRolledBack() {
	s.path(staging())
	s.env.OnActivity(ga.WriteImage, mock.Anything, mock.MatchedBy(func(in git.WriteImageInput) bool { return in.Image == image })).
		Return(git.WriteImageOutput{Commit: "c-bad", Changed: true, Previous: oldImg}, nil).Once()
	s.env.OnActivity(ar.WaitApp, mock.Anything, mock.MatchedBy(func(in argocd.WaitAppInput) bool {
		return in.Commit == "c-bad" && in.App == "time-service-staging" && in.Image == image
	})).
		Return(argocd.WaitAppOutput{}, fail.New(argocd.ErrDegraded, `time-service-staging in staging is Degraded at c-bad: Deployment "time-service" exceeded its progress deadline`)).Once()
	s.env.OnActivity(ga.WriteImage, mock.Anything, mock.MatchedBy(func(in git.WriteImageInput) bool { return in.Image == oldImg })).
		Return(git.WriteImageOutput{Commit: "c-revert", Changed: true, Previous: image}, nil).Once()
	s.healthy("staging", "c-revert")
	s.start("")
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, api.ErrRolledBack), "%v", err)
	s.ErrorContains(err, "did not become healthy in staging")
	s.ErrorContains(err, "exceeded its progress deadline")
	s.ErrorContains(err, "rolled back to "+oldImg)
	st := s.status()
	s.Equal(api.StageFailed, st.Stage)
	s.Equal(api.EnvStatus{Name: "staging", State: "rolled-back", Image: oldImg, Commit: "c-revert", Previous: oldImg}, st.Environments[0])
	s.Equal([]string{"env=staging,service=time-service,outcome=rolled_back 1"}, s.outcomes())
	s.Equal([]string{"env=staging,service=time-service 1"}, counted(s.T(), s.metrics, metrics.Rollbacks, "env", "service"))
	s.Empty(counted(s.T(), s.metrics, metrics.LeadTime+"_count"), "never Healthy")
	s.Require().Len(s.pins, 1, "a rollback pins the service in the env")
	s.Equal(platform.PinInput{Env: "staging", Service: "time-service", Image: oldImg, Run: promoID, TaskQueue: api.TaskQueue,
		Reason: s.pins[0].Reason}, s.pins[0])
	s.Contains(s.pins[0].Reason, promoID+" rolled back time-service v1.2.3: ")
}

// TestRollbackRestoresWhatRanBefore: the write was retried after it had landed, so it reports
// our own image as the previous one; the rollback still restores what ran before the run.
func (s *promoteSuite) TestRollbackRestoresWhatRanBefore() {
	s.path(staging())
	s.env.OnActivity(ga.WriteImage, mock.Anything, mock.MatchedBy(func(in git.WriteImageInput) bool { return in.Image == image })).
		Return(git.WriteImageOutput{Commit: "c-bad", Changed: false, Previous: image}, nil).Once()
	s.env.OnActivity(ar.WaitApp, mock.Anything, mock.MatchedBy(func(in argocd.WaitAppInput) bool { return in.App == "time-service-staging" && in.Image == image })).
		Return(argocd.WaitAppOutput{}, fail.New(argocd.ErrDegraded, "Degraded")).Once()
	s.env.OnActivity(ga.WriteImage, mock.Anything, mock.MatchedBy(func(in git.WriteImageInput) bool {
		return in.Image == oldImg && in.Expect == image
	})).Return(git.WriteImageOutput{Commit: "c-revert", Changed: true}, nil).Once()
	s.healthy("staging", "c-revert")
	s.start("")
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, api.ErrRolledBack), "%v", err)
	s.Equal(api.EnvRolledBack, s.status().Environments[0].State)
}

// TestRollbackNeverOverwritesANewerChange: while ours degraded, a newer change replaced the
// image; the compare-and-swap rollback leaves it alone and the run says so.
func (s *promoteSuite) TestRollbackNeverOverwritesANewerChange() {
	s.path(staging())
	s.env.OnActivity(ga.WriteImage, mock.Anything, mock.MatchedBy(func(in git.WriteImageInput) bool { return in.Image == image })).
		Return(git.WriteImageOutput{Commit: "c-bad", Changed: true, Previous: oldImg}, nil).Once()
	s.env.OnActivity(ar.WaitApp, mock.Anything, mock.MatchedBy(func(in argocd.WaitAppInput) bool { return in.App == "time-service-staging" })).
		Return(argocd.WaitAppOutput{}, fail.New(argocd.ErrHealthTimeout, "not Healthy after 3m")).Once()
	s.env.OnActivity(ga.WriteImage, mock.Anything, mock.MatchedBy(func(in git.WriteImageInput) bool { return in.Expect == image })).
		Return(git.WriteImageOutput{}, fail.New(fail.Replaced, "holds v1.2.9, not v1.2.3")).Once()
	s.start("")
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, api.ErrNotRolledBack), "%v", err)
	s.ErrorContains(err, "not rolled back")
	s.Equal([]string{"env=staging,service=time-service,outcome=failed 1"}, s.outcomes())
	s.Empty(counted(s.T(), s.metrics, metrics.Rollbacks), "no rollback was written")
}

// TestNotAppliedIsNotRolledBack: a busy Argo CD never brought the app-of-apps to our commit
// in time: the release never ran, so the promotion fails naming Argo CD, and writes no
// rollback (with 100 services promoted at once, a rollback there would undo a release nobody
// saw fail and add one more commit for Argo CD to work through).
func (s *promoteSuite) TestNotAppliedIsNotRolledBack() {
	s.path(staging())
	s.env.OnActivity(ga.WriteImage, mock.Anything, mock.Anything).
		Return(git.WriteImageOutput{Commit: "c-ours", Changed: true, Previous: oldImg}, nil).Once()
	s.env.OnActivity(ar.WaitApp, mock.Anything, mock.MatchedBy(func(in argocd.WaitAppInput) bool { return in.Root == "staging-apps" })).
		Return(argocd.WaitAppOutput{}, fail.New(argocd.ErrNotApplied, "Argo CD has not brought staging-apps in staging to c-ours after 3m")).Once()
	s.start("")
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, argocd.ErrNotApplied), "%v", err)
	s.ErrorContains(err, "has not brought staging-apps")
	s.Equal(api.EnvFailed, s.status().Environments[0].State)
	s.Empty(counted(s.T(), s.metrics, metrics.Rollbacks), "no rollback was written")
}

// TestReplacedBeforeArgoCDRanIt: Argo CD already runs a later commit whose manifest holds
// another image: the promotion stops there, neither failed nor rolled back.
func (s *promoteSuite) TestReplacedBeforeArgoCDRanIt() {
	s.path(staging())
	s.env.OnActivity(ga.WriteImage, mock.Anything, mock.Anything).
		Return(git.WriteImageOutput{Commit: "c-ours", Changed: true, Previous: oldImg}, nil).Once()
	s.env.OnActivity(ar.WaitApp, mock.Anything, mock.MatchedBy(func(in argocd.WaitAppInput) bool {
		return in.Root == "staging-apps" && in.App == "time-service-staging" && in.ManifestPath == "argocd/applications/staging/time-service.yaml"
	})).
		Return(argocd.WaitAppOutput{}, fail.New(argocd.ErrReplaced, "a later change replaced it")).Once()
	s.start("")
	s.Require().NoError(s.env.GetWorkflowError())
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Equal(api.EnvSuperseded, st.Environments[0].State)
	s.Equal([]string{"env=staging,service=time-service,outcome=superseded 1"}, s.outcomes())
}

// TestAMovedTagIsRefused: the tag was pushed over after the run resolved it: nothing is
// written to the env, and the run says why.
func (s *promoteSuite) TestAMovedTagIsRefused() {
	s.movedAfter = 1
	s.path(staging())
	s.start("")
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, api.ErrRetagged), "%v", err)
	s.ErrorContains(err, "IMMUTABLE")
	s.Equal([]string{"env=staging,service=time-service,outcome=failed 1"}, s.outcomes())
}

func (s *promoteSuite) TestSupersededWhileWaitingForApproval() {
	s.path(staging(), prod(1))
	s.direct("staging", "c-stg")
	s.soaks("staging", "c-stg")
	s.env.OnActivity(ga.WriteImage, mock.Anything, mock.MatchedBy(func(in git.WriteImageInput) bool { return in.Propose })).
		Return(git.WriteImageOutput{Commit: "branchsha", Proposal: &git.Proposal{Head: "h"}}, nil).Once()
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(api.SupersedeSignal, SupersedeRequest{By: "promote-time-service-v1.2.4"})
	}, time.Hour/2)
	s.start("prod")
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, api.ErrSuperseded))
	st := s.status()
	s.Equal("promote-time-service-v1.2.4", st.SupersededBy)
	s.Nil(st.PendingApproval)
	s.Equal([]string{"env=prod,service=time-service,outcome=superseded 1", "env=staging,service=time-service,outcome=succeeded 1"}, s.outcomes())
	s.Equal([]string{"env=prod,outcome=superseded 1"}, counted(s.T(), s.metrics, metrics.ApprovalWait+"_count", "env", "outcome"))
}

func (s *promoteSuite) TestFreezeStopsAtTheDoor() {
	s.pathFrozen("staging", staging())
	s.start("")
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, api.ErrFrozen))
	s.ErrorContains(err, "staging is frozen")
	s.Equal([]string{"env=staging,service=time-service,outcome=frozen 1"}, s.outcomes())
}
