package workflows

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/activities/terraform"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/metrics"
	"github.com/alexpermiakov/idp/internal/observe"
	"github.com/alexpermiakov/idp/workflows/api"
)

const (
	commit  = "0123456789abcdef0123456789abcdef01234567"
	planSHA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	newSHA  = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

var (
	pa *platform.Activities
	aa *aws.Activities
	ta *terraform.Activities
	ar *argocd.Activities
)

// stagingSnapshot is the env snapshot Describe takes and every later activity receives.
var stagingSnapshot = config.Snapshot{Env: config.Environment{Name: "staging", StateBucket: "state-staging"}}

type bootstrapSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment
	// people are the keys ApprovalKeys answers with.
	people map[string][]string
	// metrics receives what the workflow records, as the worker's registry does.
	metrics *observe.Metrics
	// door is how the env's door answers; nil opens it.
	door *controls.DoorAnswer
}

func TestBootstrap(t *testing.T) { suite.Run(t, new(bootstrapSuite)) }

func (s *bootstrapSuite) SetupTest() {
	s.metrics = newMetrics(s.T())
	s.SetMetricsHandler(s.metrics.Handler)
	s.env = s.NewTestWorkflowEnvironment()
	// The 1 s default flags a slow machine (CI runs every package at once, under -race) as a
	// deadlock; a workflow that really never yields still fails, later.
	s.env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: 30 * time.Second})
	s.env.RegisterWorkflowWithOptions(BootstrapEnvironment, workflowOptions(api.BootstrapWorkflowName))
	s.env.RegisterActivity(pa)
	s.env.RegisterActivity(aa)
	s.env.RegisterActivity(ta)
	s.env.RegisterActivity(ar)
	s.env.RegisterActivity(sa)
	s.door = nil
	openDoors(s.env, func(string) *controls.DoorAnswer { return s.door })
	s.people = map[string][]string{}
	mockApprovalKeys(s.env, func() map[string][]string { return s.people })
}

func (s *bootstrapSuite) AfterTest(_, _ string) { s.env.AssertExpectations(s.T()) }

func approvalPolicy(min int, approvers ...string) config.Approval {
	return config.Approval{Required: true, FourEyes: true, MinApprovals: min, Approvers: approvers, Expiry: config.Duration(time.Hour)}
}

// mockUpToPlan mocks the steps before the plan and the plan itself.
func (s *bootstrapSuite) mockUpToPlan(policy config.Approval, plans ...terraform.PlanOutput) {
	s.env.OnActivity(pa.Describe, mock.Anything, platform.DescribeInput{Env: "staging"}).Return(platform.DescribeOutput{Snapshot: stagingSnapshot,
		Commit: commit, AccountID: "470879558261", StateBucket: "state-staging", GitHubRole: "GitHubActionsRole",
		GrantPull: true, PlanApproval: policy}, nil).Once()
	s.env.OnActivity(aa.EnsureStateBackend, mock.Anything, aws.StateBackendInput{Snapshot: stagingSnapshot}).
		Return(aws.StateBackendOutput{Bucket: "state-staging", Created: true}, nil).Once()
	s.env.OnActivity(aa.EnsureGitHubOIDC, mock.Anything, aws.OIDCInput{Snapshot: stagingSnapshot}).
		Return(aws.OIDCOutput{RoleARN: "arn:aws:iam::470879558261:role/GitHubActionsRole", Restored: []string{"trust policy of GitHubActionsRole"}}, nil).Once()
	for _, p := range plans {
		s.env.OnActivity(ta.Plan, mock.Anything, mock.Anything).Return(p, nil).Once()
	}
}

func plan(sha string) terraform.PlanOutput {
	return terraform.PlanOutput{Key: "idp/plans/staging/" + sha + ".tfplan", Summary: terraform.Summary{SHA256: sha, Add: 2, Change: 1,
		Adds: []string{"module.vpc.aws_vpc.this", "module.eks.aws_eks_cluster.this"}, Changes: []string{"aws_iam_role.x"}}}
}

func (s *bootstrapSuite) mockArgoCD() {
	s.env.OnActivity(ar.InstallArgoCD, mock.Anything, argocd.InstallInput{Snapshot: stagingSnapshot, Commit: commit}).
		Return(argocd.InstallOutput{Version: "v2.14.21", Objects: 60}, nil).Once()
	s.env.OnActivity(ar.WaitArgoCD, mock.Anything, argocd.WaitInput{Snapshot: stagingSnapshot}).
		Return(argocd.WaitOutput{Apps: []argocd.AppStatus{{Name: "staging-apps", Sync: "Synced", Health: "Healthy"}}}, nil).Once()
}

func (s *bootstrapSuite) mockApplyAndGrant(sha string) {
	s.mockArgoCD()
	s.env.OnActivity(ta.Apply, mock.Anything, terraform.ApplyInput{Snapshot: stagingSnapshot, Commit: commit,
		PlanKey: "idp/plans/staging/" + sha + ".tfplan", SHA256: sha, Total: 3}).Return(terraform.ApplyOutput{Done: 3, Total: 3}, nil).Once()
	s.env.OnActivity(aa.GrantECRPull, mock.Anything, aws.GrantInput{Snapshot: stagingSnapshot}).Return(aws.GrantOutput{Changed: []string{"idp/localtime"}}, nil).Once()
}

func (s *bootstrapSuite) start(requester string) {
	s.env.ExecuteWorkflow(api.BootstrapWorkflowName, api.BootstrapInput{Env: "staging", Requester: requester})
}

func (s *bootstrapSuite) result() api.Status {
	var st api.Status
	s.NoError(s.env.GetWorkflowResult(&st))
	return st
}

func (s *bootstrapSuite) status() api.Status {
	v, err := s.env.QueryWorkflow(api.StatusQuery)
	s.Require().NoError(err)
	var st api.Status
	s.Require().NoError(v.Get(&st))
	return st
}

// outcome is what became of one update: the validator's refusal, or acceptance.
type outcome struct {
	refused  error
	accepted bool
}

// update sends an update; the test environment delivers it when the workflow next runs, so
// the outcome is read in a later callback or after the run.
func (s *bootstrapSuite) update(name string, arg any) *outcome {
	o := &outcome{}
	s.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnAccept:   func() { o.accepted = true },
		OnReject:   func(err error) { o.refused = err },
		OnComplete: func(any, error) {},
	}, arg)
	return o
}

func (s *bootstrapSuite) accepted(o *outcome) {
	s.T().Helper()
	s.NoError(o.refused)
	s.True(o.accepted, "update was not accepted")
}

func (s *bootstrapSuite) refused(o *outcome, msg string) {
	s.T().Helper()
	s.False(o.accepted, "update was accepted, want refused with %q", msg)
	s.ErrorContains(o.refused, msg)
}

func (s *bootstrapSuite) TestNoApprovalNeeded() {
	s.mockUpToPlan(config.Approval{MinApprovals: 1, Expiry: config.Duration(time.Hour)}, plan(planSHA))
	s.mockApplyAndGrant(planSHA)
	s.start("alice")
	s.True(s.env.IsWorkflowCompleted())
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Equal(commit, st.Commit)
	s.Equal([]api.EnvStatus{{Name: "staging", State: "done", Commit: commit}}, st.Environments)
	s.Empty(st.Approvals)
	s.Contains(st.Steps, "terraform apply: 3 of 3 resource actions done")
}

func (s *bootstrapSuite) TestPlanApprovedBySecondPerson() {
	var ok *outcome
	s.mockUpToPlan(approvalPolicy(1, "alice", "bob"), plan(planSHA))
	s.mockApplyAndGrant(planSHA)
	s.env.RegisterDelayedCallback(func() {
		st := s.status()
		s.Equal(api.StageWaitingApproval, st.Stage)
		s.Require().NotNil(st.PendingApproval)
		s.Equal(planSHA, st.PendingApproval.Subject)
		s.Equal([]string{"alice", "bob"}, st.PendingApproval.Approvers)
		s.Equal(2, st.Plan.Add)
		ok = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: planSHA, Comment: "looks right"})
	}, time.Minute)
	s.start("alice")
	s.accepted(ok)
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Require().Len(st.Approvals, 1)
	s.Equal("bob", st.Approvals[0].Who)
	s.Equal("approve", st.Approvals[0].Decision)
	s.Equal(planSHA, st.Approvals[0].Subject)
	s.Nil(st.PendingApproval)
	s.Equal(time.Minute, seconds(s.T(), s.metrics, metrics.ApprovalWait, map[string]string{"kind": "bootstrap", "env": "staging", "outcome": "approved"}))
}

func (s *bootstrapSuite) TestValidatorRefusesBeforeRecording() {
	s.mockUpToPlan(approvalPolicy(2, "alice", "bob", "carol"), plan(planSHA))
	s.mockApplyAndGrant(planSHA)
	var self, selfSpaced, unlisted, wrongSHA, noSHA, noReason, bob, bobAgain, carol *outcome
	s.env.RegisterDelayedCallback(func() {
		self = s.update(api.ApproveUpdate, api.ApproveInput{Who: "alice", Subject: planSHA})
		selfSpaced = s.update(api.ApproveUpdate, api.ApproveInput{Who: "ALICE ", Subject: planSHA})
		unlisted = s.update(api.ApproveUpdate, api.ApproveInput{Who: "mallory", Subject: planSHA})
		wrongSHA = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: newSHA})
		noSHA = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob"})
		noReason = s.update(api.RejectUpdate, api.RejectInput{Who: "bob", Subject: planSHA})
		bob = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: planSHA})
	}, time.Minute)
	s.env.RegisterDelayedCallback(func() {
		st := s.status()
		s.Len(st.Approvals, 1, "refused updates record nothing")
		s.Equal(1, st.PendingApproval.Received)
		s.Equal(api.StageWaitingApproval, st.Stage, "one approval of two keeps the gate closed")
		bobAgain = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: planSHA})
	}, 2*time.Minute)
	s.env.RegisterDelayedCallback(func() {
		carol = s.update(api.ApproveUpdate, api.ApproveInput{Who: "carol", Subject: planSHA})
	}, 3*time.Minute)
	s.start("alice")
	s.refused(self, "four-eyes: alice started this run")
	s.refused(selfSpaced, "four-eyes")
	s.refused(unlisted, "mallory may not approve in staging")
	s.refused(wrongSHA, "is not the pending terraform plan")
	s.refused(noSHA, "no subject given")
	s.refused(noReason, "needs a reason")
	s.accepted(bob)
	s.refused(bobAgain, "bob already approved")
	s.accepted(carol)
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Len(st.Approvals, 2)
}

func (s *bootstrapSuite) TestNoApprovalPendingRefused() {
	s.mockUpToPlan(config.Approval{MinApprovals: 1, Expiry: config.Duration(time.Hour)}, plan(planSHA))
	s.env.OnActivity(ta.Apply, mock.Anything, mock.Anything).After(time.Minute).Return(terraform.ApplyOutput{Done: 3, Total: 3}, nil).Once()
	s.mockArgoCD()
	s.env.OnActivity(aa.GrantECRPull, mock.Anything, mock.Anything).Return(aws.GrantOutput{}, nil).Once()
	var early *outcome
	s.env.RegisterDelayedCallback(func() {
		early = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: planSHA})
	}, 10*time.Second)
	s.start("alice")
	s.refused(early, "no approval is pending")
	s.Equal(api.StageDone, s.result().Stage)
}

func (s *bootstrapSuite) TestPlanRejected() {
	s.mockUpToPlan(approvalPolicy(1), plan(planSHA))
	var rej *outcome
	s.env.RegisterDelayedCallback(func() {
		rej = s.update(api.RejectUpdate, api.RejectInput{Who: "carol", Subject: planSHA, Reason: "destroys the NAT gateway"})
	}, time.Minute)
	s.start("alice")
	s.accepted(rej)
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, fail.Rejected), "error type: %v", err)
	s.ErrorContains(err, "carol rejected the terraform plan")
	s.ErrorContains(err, "destroys the NAT gateway")
	st := s.status()
	s.Equal(api.StageFailed, st.Stage)
	s.Equal("reject", st.Approvals[0].Decision)
	s.Contains(st.Error, "carol rejected")
	s.Equal([]string{"kind=bootstrap,env=staging,outcome=rejected 1"}, counted(s.T(), s.metrics, metrics.ApprovalWait+"_count", "kind", "env", "outcome"))
}

func (s *bootstrapSuite) TestApprovalExpires() {
	s.mockUpToPlan(approvalPolicy(1), plan(planSHA))
	s.start("alice")
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, fail.ApprovalExpired), "error type: %v", err)
	s.ErrorContains(err, "expired")
	s.Equal(api.StageFailed, s.status().Stage)
}

func (s *bootstrapSuite) TestSignalFallback() {
	s.mockUpToPlan(approvalPolicy(1, "bob", "carol"), plan(planSHA))
	s.mockApplyAndGrant(planSHA)
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(api.ApproveSignal, api.ApproveInput{Who: "alice", Subject: planSHA})
	}, time.Minute)
	s.env.RegisterDelayedCallback(func() {
		st := s.status()
		s.Require().Len(st.IgnoredSignals, 1)
		s.Contains(st.IgnoredSignals[0].Reason, "alice may not approve")
		s.Empty(st.Approvals)
		s.env.SignalWorkflow(api.ApproveSignal, api.ApproveInput{Who: "bob", Subject: planSHA})
	}, 2*time.Minute)
	s.start("alice")
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Equal("bob", st.Approvals[0].Who)
	s.Len(st.IgnoredSignals, 1)
}

func (s *bootstrapSuite) TestStalePlanIsPlannedAndApprovedAgain() {
	s.mockUpToPlan(approvalPolicy(1), plan(planSHA), plan(newSHA))
	s.env.OnActivity(ta.Apply, mock.Anything, mock.MatchedBy(func(in terraform.ApplyInput) bool { return in.SHA256 == planSHA })).
		Return(terraform.ApplyOutput{}, fail.New(fail.StalePlan, "Saved plan is stale")).Once()
	s.mockApplyAndGrant(newSHA)
	var first, old, second *outcome
	s.env.RegisterDelayedCallback(func() {
		first = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: planSHA})
	}, time.Minute)
	s.env.RegisterDelayedCallback(func() {
		st := s.status()
		s.Require().NotNil(st.PendingApproval, "the new plan needs its own approval")
		s.Equal(newSHA, st.PendingApproval.Subject)
		old = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: planSHA})
		second = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: newSHA})
	}, 2*time.Minute)
	s.start("alice")
	s.accepted(first)
	s.refused(old, "is not the pending")
	s.accepted(second)
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Len(st.Approvals, 2)
	s.Equal(newSHA, st.Approvals[1].Subject)
}

func (s *bootstrapSuite) TestNoChangesNeedsNoApprovalNorApply() {
	s.mockUpToPlan(approvalPolicy(1), terraform.PlanOutput{Summary: terraform.Summary{SHA256: planSHA}, Key: "k"})
	s.mockArgoCD()
	s.env.OnActivity(aa.GrantECRPull, mock.Anything, mock.Anything).Return(aws.GrantOutput{}, nil).Once()
	s.start("alice")
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Nil(st.PendingApproval)
	s.Contains(st.Steps, "terraform plan aaaaaaaaaaaa: no changes")
}

func (s *bootstrapSuite) TestTransientFailureIsRetried() {
	s.env.OnActivity(ta.Plan, mock.Anything, mock.Anything).Return(terraform.PlanOutput{}, errors.New("connection reset by peer")).Once()
	s.mockUpToPlan(config.Approval{MinApprovals: 1, Expiry: config.Duration(time.Hour)}, plan(planSHA))
	s.mockApplyAndGrant(planSHA)
	s.start("alice")
	s.Equal(api.StageDone, s.result().Stage)
}

func (s *bootstrapSuite) TestArgoCDNotHealthyFailsWithItsMessage() {
	s.mockUpToPlan(config.Approval{MinApprovals: 1, Expiry: config.Duration(time.Hour)}, plan(planSHA))
	s.env.OnActivity(ta.Apply, mock.Anything, mock.Anything).Return(terraform.ApplyOutput{Done: 3, Total: 3}, nil).Once()
	s.env.OnActivity(ar.InstallArgoCD, mock.Anything, mock.Anything).Return(argocd.InstallOutput{Version: "v2.14.21"}, nil).Once()
	s.env.OnActivity(ar.WaitArgoCD, mock.Anything, mock.Anything).Return(argocd.WaitOutput{},
		fail.New(argocd.ErrNotHealthy, "Argo CD in argocd not Synced and Healthy after 10m0s: time-service-staging: Synced/Degraded (Deployment time-service: exceeded its progress deadline)")).Once()
	s.start("alice")
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.ErrorContains(err, "exceeded its progress deadline")
	st := s.status()
	s.Equal(api.StageFailed, st.Stage)
	s.Equal(api.EnvFailed, st.Environments[0].State)
}

func (s *bootstrapSuite) TestConfigErrorFailsFast() {
	s.env.OnActivity(pa.Describe, mock.Anything, mock.Anything).
		Return(platform.DescribeOutput{}, fail.New(fail.Config, `unknown environment "staging" (idp.yaml defines: dev)`)).Once()
	s.start("alice")
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, fail.Config))
	var app *temporal.ApplicationError
	s.Require().ErrorAs(err, &app)
	s.Equal(`unknown environment "staging" (idp.yaml defines: dev)`, app.Message())
	s.Equal(app.Message(), s.status().Error)
}

func TestShort(t *testing.T) {
	require.Equal(t, "0123456789ab", short("sha256:0123456789abcdef"))
	require.Equal(t, "v1", short("v1"))
}
