package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/notify"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/activities/terraform"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/workflows/api"
)

type destroySuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment
	// door is how the env's door answers; nil opens it.
	door *controls.DoorAnswer
	// told are the events sent to notify targets.
	told []notify.Event
}

func TestDestroy(t *testing.T) { suite.Run(t, new(destroySuite)) }

func (s *destroySuite) SetupTest() {
	s.env = s.NewTestWorkflowEnvironment()
	s.env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: 30 * time.Second})
	s.env.RegisterWorkflowWithOptions(DestroyEnvironment, workflowOptions(api.DestroyWorkflowName))
	s.env.RegisterActivity(pa)
	s.env.RegisterActivity(aa)
	s.env.RegisterActivity(ta)
	s.env.RegisterActivity(ar)
	s.env.RegisterActivity(sa)
	mockApprovalKeys(s.env, func() map[string][]string { return map[string][]string{} })
	s.door = nil
	openDoors(s.env, func(string) *controls.DoorAnswer { return s.door })
	var na *notify.Activities
	s.env.RegisterActivity(na)
	s.told = nil
	s.env.OnActivity(na.Send, mock.Anything, mock.Anything).Return(func(_ context.Context, ev notify.Event) (notify.SendOutput, error) {
		s.told = append(s.told, ev)
		return notify.SendOutput{}, nil
	}).Maybe()
}

func (s *destroySuite) AfterTest(_, _ string) { s.env.AssertExpectations(s.T()) }

// destroyPlan is a destroy plan of the staging env that still holds its cluster.
func destroyPlan(sha string) terraform.PlanOutput {
	return terraform.PlanOutput{Key: "idp/plans/staging/" + sha + ".tfplan", Summary: terraform.Summary{SHA256: sha, Destroy: 2,
		Destroys: []string{"module.eks.aws_eks_cluster.this", "module.vpc.aws_vpc.this"}}}
}

// mockDescribe answers Describe for staging with the policy, and OpenRuns with runs.
func (s *destroySuite) mockDescribe(policy config.Approval, runs ...platform.OpenRun) {
	s.env.OnActivity(pa.Describe, mock.Anything, platform.DescribeInput{Env: "staging"}).Return(platform.DescribeOutput{Snapshot: stagingSnapshot,
		Commit: commit, AccountID: "470879558261", StateBucket: "state-staging", GitHubRole: "GitHubActionsRole",
		GrantPull: true, PlanApproval: policy, ArgoCDTimeout: time.Minute}, nil).Once()
	s.env.OnActivity(sa.OpenRuns, mock.Anything, platform.OpenRunsInput{Env: "staging", Exclude: "default-test-workflow-id"}).
		Return(platform.OpenRunsOutput{Runs: append([]platform.OpenRun{}, runs...)}, nil).Once()
}

// mockTeardown mocks every step after the plan: Argo CD (when the plan holds the cluster),
// the apply, state, ECR pull and the GitHub role, with what each finds.
func (s *destroySuite) mockTeardown(p terraform.PlanOutput, gone bool) {
	s.env.OnActivity(ta.Plan, mock.Anything, mock.MatchedBy(func(in terraform.PlanInput) bool { return in.Destroy })).Return(p, nil).Once()
	if p.HasChanges() {
		s.env.OnActivity(ar.UninstallArgoCD, mock.Anything, argocd.UninstallInput{Snapshot: stagingSnapshot}).
			Return(argocd.UninstallOutput{Apps: []string{"staging-apps", "time-service-staging"}, Removed: []string{"Namespace/argocd"}}, nil).Once()
		s.env.OnActivity(ta.Apply, mock.Anything, terraform.ApplyInput{Snapshot: stagingSnapshot, Commit: commit,
			PlanKey: p.Key, SHA256: p.SHA256, Total: p.Destroy}).Return(terraform.ApplyOutput{Done: p.Destroy, Total: p.Destroy}, nil).Once()
	}
	state := aws.RemoveStateOutput{Bucket: "state-staging", Removed: []string{"s3://state-staging/entry/terraform.tfstate"}}
	revoked := aws.GrantOutput{Changed: []string{"idp/localtime", "idp/version"}}
	oidc := aws.RemoveOIDCOutput{Removed: []string{"role GitHubActionsRole", "OIDC provider token.actions.githubusercontent.com"}}
	if gone {
		state = aws.RemoveStateOutput{Bucket: "state-staging", AlreadyGone: []string{"s3://state-staging/entry/terraform.tfstate"}}
		revoked = aws.GrantOutput{}
		oidc = aws.RemoveOIDCOutput{AlreadyGone: []string{"role GitHubActionsRole", "OIDC provider token.actions.githubusercontent.com"}}
	}
	s.env.OnActivity(aa.RemoveState, mock.Anything, aws.RemoveStateInput{Snapshot: stagingSnapshot}).Return(state, nil).Once()
	s.env.OnActivity(aa.RevokeECRPull, mock.Anything, aws.GrantInput{Snapshot: stagingSnapshot}).Return(revoked, nil).Once()
	s.env.OnActivity(pa.SharedAccount, mock.Anything, platform.SharedAccountInput{Env: "staging"}).
		Return(platform.SharedAccountOutput{Envs: []string{}, Role: []string{}}, nil).Once()
	s.env.OnActivity(aa.RemoveGitHubOIDC, mock.Anything, aws.RemoveOIDCInput{Snapshot: stagingSnapshot}).Return(oidc, nil).Once()
}

func (s *destroySuite) start(in api.DestroyInput) {
	if in.Env == "" {
		in.Env = "staging"
	}
	if in.Requester == "" {
		in.Requester = "alice"
	}
	s.env.ExecuteWorkflow(api.DestroyWorkflowName, in)
}

func (s *destroySuite) result() api.Status {
	var st api.Status
	s.Require().NoError(s.env.GetWorkflowResult(&st))
	return st
}

func (s *destroySuite) status() api.Status {
	v, err := s.env.QueryWorkflow(api.StatusQuery)
	s.Require().NoError(err)
	var st api.Status
	s.Require().NoError(v.Get(&st))
	return st
}

func (s *destroySuite) TestNoApprovalNeeded() {
	s.mockDescribe(config.Approval{MinApprovals: 1, Expiry: config.Duration(time.Hour)})
	s.mockTeardown(destroyPlan(planSHA), false)
	s.start(api.DestroyInput{})
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Equal(api.KindDestroy, st.Kind)
	s.Equal([]api.EnvStatus{{Name: "staging", State: api.EnvDestroyed, Commit: commit}}, st.Environments)
	s.Empty(st.Approvals)
	s.Subset(st.Steps, []string{
		"no promotion or bootstrap runs into staging",
		"terraform plan -destroy aaaaaaaaaaaa: 2 to destroy",
		"Argo CD in staging: 2 Applications deleted with their workloads (staging-apps, time-service-staging); 1 Argo CD objects deleted",
		"terraform destroy: 2 of 2 resources destroyed",
		"state in state-staging: removed s3://state-staging/entry/terraform.tfstate",
		"state bucket state-staging kept (--purge-state deletes it)",
		"ECR pull for account 470879558261 revoked in idp/localtime, idp/version",
		"GitHub OIDC in account 470879558261: removed role GitHubActionsRole, OIDC provider token.actions.githubusercontent.com",
	})
}

func (s *destroySuite) TestRefusedWhileAPromotionRuns() {
	s.mockDescribe(config.Approval{}, platform.OpenRun{WorkflowID: "promote-time-service-v1.2.3", Kind: "promote"},
		platform.OpenRun{WorkflowID: "bootstrap-staging", Kind: "bootstrap"})
	s.start(api.DestroyInput{})
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, api.ErrBusy), "want %s, got %v", api.ErrBusy, err)
	s.ErrorContains(err, "promote-time-service-v1.2.3 (promote), bootstrap-staging (bootstrap)")
	s.Equal(api.StageFailed, s.status().Stage)
}

func (s *destroySuite) TestStagingWaitsForApprovalBeforeAnythingGoes() {
	s.mockDescribe(approvalPolicy(1, "alice", "bob"))
	s.mockTeardown(destroyPlan(planSHA), false)
	var self, bob *outcome
	s.env.RegisterDelayedCallback(func() {
		st := s.status()
		s.Equal(api.StageWaitingApproval, st.Stage)
		s.Require().NotNil(st.PendingApproval)
		s.Equal(planSHA, st.PendingApproval.Subject)
		s.Equal("terraform destroy plan", st.PendingApproval.What)
		s.NotContains(st.Steps, "terraform destroy: 2 of 2 resources destroyed")
		for _, line := range st.Steps {
			s.NotContains(line, "Argo CD in staging", "nothing is removed before the approval")
		}
		self = s.update(api.ApproveUpdate, api.ApproveInput{Who: "alice", Subject: planSHA})
		bob = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: planSHA})
	}, time.Minute)
	s.start(api.DestroyInput{})
	s.False(self.accepted)
	s.ErrorContains(self.refused, "four-eyes")
	s.NoError(bob.refused)
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Require().Len(st.Approvals, 1)
	s.Equal("bob", st.Approvals[0].Who)
	s.Contains(st.Steps, "destroy plan aaaaaaaaaaaa approved")
}

func (s *destroySuite) TestPurgeStateNeedsItsOwnApproval() {
	s.mockDescribe(approvalPolicy(1, "bob"))
	s.mockTeardown(destroyPlan(planSHA), false)
	s.env.OnActivity(aa.RemoveState, mock.Anything, aws.RemoveStateInput{Snapshot: stagingSnapshot, Purge: true}).
		Return(aws.RemoveStateOutput{Bucket: "state-staging", Removed: []string{"bucket state-staging"}, BucketDeleted: true}, nil).Once()
	s.env.RegisterDelayedCallback(func() { s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: planSHA}) }, time.Minute)
	var purge *outcome
	s.env.RegisterDelayedCallback(func() {
		st := s.status()
		s.Require().NotNil(st.PendingApproval)
		s.Equal("s3://state-staging", st.PendingApproval.Subject)
		s.Equal("deletion of the state bucket", st.PendingApproval.What)
		purge = s.update(api.ApproveUpdate, api.ApproveInput{Who: "bob", Subject: "s3://state-staging"})
	}, 2*time.Minute)
	s.start(api.DestroyInput{PurgeState: true})
	s.NoError(purge.refused)
	st := s.result()
	s.Len(st.Approvals, 2)
	s.Contains(st.Steps, "state bucket state-staging: removed bucket state-staging")
}

func (s *destroySuite) TestRerunFinishesAndSaysWhatWasGone() {
	s.mockDescribe(approvalPolicy(1, "bob"))
	s.mockTeardown(terraform.PlanOutput{Key: "idp/plans/staging/x.tfplan", Summary: terraform.Summary{SHA256: planSHA}}, true)
	s.start(api.DestroyInput{})
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Nil(st.PendingApproval, "an empty destroy plan needs no approval")
	s.Subset(st.Steps, []string{
		"terraform plan -destroy aaaaaaaaaaaa: nothing left in the state, the infrastructure is already gone",
		"Argo CD: gone with the cluster",
		"state in state-staging: already gone: s3://state-staging/entry/terraform.tfstate",
		"ECR pull for account 470879558261: already revoked",
		"GitHub OIDC in account 470879558261: already gone: role GitHubActionsRole, OIDC provider token.actions.githubusercontent.com",
	})
}

func (s *destroySuite) TestResumeAfterTheClusterWentSkipsArgoCD() {
	s.mockDescribe(config.Approval{})
	p := terraform.PlanOutput{Key: "idp/plans/staging/" + newSHA + ".tfplan", Summary: terraform.Summary{SHA256: newSHA, Destroy: 1,
		Destroys: []string{"module.vpc.aws_vpc.this"}}}
	s.env.OnActivity(ta.Plan, mock.Anything, mock.Anything).Return(p, nil).Once()
	s.env.OnActivity(ta.Apply, mock.Anything, mock.Anything).Return(terraform.ApplyOutput{Done: 1, Total: 1}, nil).Once()
	s.env.OnActivity(aa.RemoveState, mock.Anything, mock.Anything).Return(aws.RemoveStateOutput{}, nil).Once()
	s.env.OnActivity(aa.RevokeECRPull, mock.Anything, mock.Anything).Return(aws.GrantOutput{}, nil).Once()
	s.env.OnActivity(pa.SharedAccount, mock.Anything, mock.Anything).
		Return(platform.SharedAccountOutput{Envs: []string{"qa"}, Role: []string{"qa"}}, nil).Once()
	s.start(api.DestroyInput{})
	st := s.result()
	s.Subset(st.Steps, []string{
		"Argo CD in staging: the cluster is not in the destroy plan, so it is gone already",
		"GitHub role GitHubActionsRole kept: qa in account 470879558261 use it too",
	})
}

func (s *destroySuite) TestPurgeStateOfAPreviewRefused() {
	s.start(api.DestroyInput{PR: 7, PurgeState: true})
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, fail.Config))
	s.ErrorContains(err, "--purge-state with --pr 7")
}

// update sends an update; see bootstrapSuite.update.
func (s *destroySuite) update(name string, arg any) *outcome {
	o := &outcome{}
	s.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnAccept:   func() { o.accepted = true },
		OnReject:   func(err error) { o.refused = err },
		OnComplete: func(any, error) {},
	}, arg)
	return o
}

func (s *destroySuite) TestPreviewKeepsItsBaseEnvsRoleAndNamesSwitchedOffParts() {
	preview := config.Snapshot{Env: config.Environment{Name: "dev-pr-7", StateBucket: "state-dev",
		TerraformVars: map[string]any{"enable_public_route_table": false, "enable_nat_gateway": false, "vpc_cidr": "10.7.0.0/16", "enable_eks_addons": true}}}
	s.env.OnActivity(pa.Describe, mock.Anything, platform.DescribeInput{Env: "dev", PR: 7, HeadOptional: true}).Return(platform.DescribeOutput{Snapshot: preview,
		Commit: commit, AccountID: "935743309409", StateBucket: "state-dev", GitHubRole: "GitHubActionsRole"}, nil).Once()
	s.env.OnActivity(sa.OpenRuns, mock.Anything, platform.OpenRunsInput{Env: "dev-pr-7", Exclude: "default-test-workflow-id"}).
		Return(platform.OpenRunsOutput{}, nil).Once()
	s.env.OnActivity(ta.Plan, mock.Anything, mock.Anything).Return(terraform.PlanOutput{Summary: terraform.Summary{SHA256: planSHA, Destroy: 1,
		Destroys: []string{"module.vpc.aws_vpc.this"}}}, nil).Once()
	s.env.OnActivity(ta.Apply, mock.Anything, mock.Anything).Return(terraform.ApplyOutput{Done: 1, Total: 1}, nil).Once()
	s.env.OnActivity(aa.RemoveState, mock.Anything, aws.RemoveStateInput{Snapshot: preview}).Return(aws.RemoveStateOutput{}, nil).Once()
	s.start(api.DestroyInput{Env: "dev", PR: 7})
	st := s.result()
	s.Equal([]api.EnvStatus{{Name: "dev pr-7", State: api.EnvDestroyed, Commit: commit}}, st.Environments)
	s.Subset(st.Steps, []string{
		"switched off by terraformVars in idp.yaml, so never created and not destroyed (infra/README.md names the API each lacks in the emulator): enable_nat_gateway, enable_public_route_table",
		"ECR pull revoke switched off in idp.yaml (tooling.grantPull: false)",
		"GitHub role GitHubActionsRole kept: dev uses it",
	})
}

// A frozen env's destroy waits at its door, before anything goes, and goes on once the freeze
// lifts; people are told when it is done.
func (s *destroySuite) TestAFrozenEnvWaitsThenIsToldDestroyed() {
	s.mockDescribe(config.Approval{})
	s.mockTeardown(destroyPlan(planSHA), false)
	s.door = &controls.DoorAnswer{Env: "staging", Freezes: []controls.Freeze{{Who: "bob", Reason: "release week"}}}
	s.env.RegisterDelayedCallback(func() {
		st := s.status()
		s.Contains(st.Frozen, "staging is frozen by bob")
		s.Nil(st.Plan, "nothing planned, nothing removed while frozen")
		s.env.SignalWorkflow(controls.AnswerSignal, controls.DoorAnswer{Env: "staging", Open: true})
	}, time.Hour)
	s.start(api.DestroyInput{})
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Contains(st.Steps, "staging is no longer frozen: going on")
	s.Require().Len(s.told, 1)
	s.Equal(notify.Destroyed, s.told[0].Type)
	s.Equal("staging", s.told[0].Env)
	s.Equal("staging is destroyed (requested by alice)", s.told[0].Text)
}

func (s *destroySuite) TestAFailedDestroyIsTold() {
	s.mockDescribe(config.Approval{}, platform.OpenRun{WorkflowID: "promote-time-service-v1.2.3", Kind: "promote"})
	s.start(api.DestroyInput{})
	s.Error(s.env.GetWorkflowError())
	s.Require().Len(s.told, 1)
	s.Equal(notify.DestroyFailed, s.told[0].Type)
	s.Contains(s.told[0].Text, "destroy of staging failed: refusing to destroy staging while 1 run(s) go into it")
}
