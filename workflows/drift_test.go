package workflows

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/notify"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/activities/terraform"
	"github.com/alexpermiakov/idp/workflows/api"
)

type driftSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment
	// told are the events sent to notify targets; attrs the search attributes upserted.
	told  []notify.Event
	attrs []temporal.SearchAttributes
}

func TestDrift(t *testing.T) { suite.Run(t, new(driftSuite)) }

func (s *driftSuite) SetupTest() {
	s.env = s.NewTestWorkflowEnvironment()
	s.env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: 30 * time.Second})
	s.env.RegisterWorkflowWithOptions(DriftCheck, workflowOptions(api.DriftWorkflowName))
	var na *notify.Activities
	for _, a := range []any{pa, aa, ta, ar, na} {
		s.env.RegisterActivity(a)
	}
	s.told, s.attrs = nil, nil
	s.env.OnActivity(na.Send, mock.Anything, mock.Anything).Return(func(_ context.Context, ev notify.Event) (notify.SendOutput, error) {
		s.told = append(s.told, ev)
		return notify.SendOutput{}, nil
	}).Maybe()
	s.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		s.attrs = append(s.attrs, args.Get(0).(temporal.SearchAttributes))
	}).Return(nil)
	s.env.OnActivity(pa.Describe, mock.Anything, platform.DescribeInput{Env: "staging"}).Return(platform.DescribeOutput{Snapshot: stagingSnapshot,
		Commit: commit, GitHubRole: "GitHubActionsRole", ArgoCDVersion: "v2.14.21"}, nil).Once()
}

func (s *driftSuite) AfterTest(_, _ string) { s.env.AssertExpectations(s.T()) }

// mockChecks answers the three checks; nothing that writes is registered with a mock, so a
// call to one fails the run.
func (s *driftSuite) mockChecks(plan terraform.DriftOutput, oidc, cd []string) {
	s.env.OnActivity(ta.PlanDrift, mock.Anything, mock.MatchedBy(func(in terraform.DriftInput) bool {
		return in.Commit == commit && in.Snapshot.Env.Name == "staging" && in.RunID != ""
	})).Return(plan, nil).Once()
	s.env.OnActivity(aa.CheckGitHubOIDC, mock.Anything, aws.OIDCInput{Snapshot: stagingSnapshot}).Return(aws.OIDCDriftOutput{Drift: oidc}, nil).Once()
	s.env.OnActivity(ar.CheckArgoCD, mock.Anything, argocd.InstallInput{Snapshot: stagingSnapshot, Commit: commit}).
		Return(argocd.DriftOutput{Version: "v2.14.21", Drift: cd}, nil).Once()
}

func (s *driftSuite) result() api.Status {
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	var st api.Status
	s.Require().NoError(s.env.GetWorkflowResult(&st))
	return st
}

// drift is the IdpDrift the run set last; ok is false when it never set it.
func (s *driftSuite) drift() (drifted, ok bool) {
	for _, a := range s.attrs {
		if v, set := a.GetBool(api.AttrDrift); set {
			drifted, ok = v, true
		}
	}
	return drifted, ok
}

func (s *driftSuite) TestNoDrift() {
	s.mockChecks(terraform.DriftOutput{}, nil, []string{})
	s.env.ExecuteWorkflow(api.DriftWorkflowName, api.DriftInput{Env: "staging"})
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Equal(api.KindDrift, st.Kind)
	s.Require().NotNil(st.Drift)
	s.Equal(api.DriftReport{Env: "staging", Commit: commit, Terraform: []string{}, Changes: []string{}, OIDC: []string{}, ArgoCD: []string{}}, *st.Drift)
	drifted, ok := s.drift()
	s.True(ok, "IdpDrift is set when the run found no drift too, so the latest run per env tells")
	s.False(drifted)
	s.Empty(s.told, "no drift, nothing to tell")
	s.Contains(st.Steps, "staging matches platform commit "+short(commit)+": no drift")
	kind, _ := s.attrs[0].GetKeyword(api.AttrKind)
	env, _ := s.attrs[0].GetKeyword(api.AttrEnvironment)
	s.Equal([]string{api.KindDrift, "staging"}, []string{kind, env})
}

func (s *driftSuite) TestDriftIsReportedAndTold() {
	s.mockChecks(terraform.DriftOutput{Drifted: []string{"module.vpc.aws_vpc.this"}, Changes: []string{"module.vpc.aws_vpc.this"}},
		[]string{"trust policy of role GitHubActionsRole differs from the one bootstrap writes"}, []string{"Deployment/argocd-server is missing"})
	s.env.ExecuteWorkflow(api.DriftWorkflowName, api.DriftInput{Env: "staging", Requester: "alice"})
	st := s.result()
	s.Equal(api.StageDone, st.Stage, "finding drift is a successful check")
	s.Equal(&api.DriftReport{Env: "staging", Commit: commit, Drifted: true,
		Terraform: []string{"module.vpc.aws_vpc.this"}, Changes: []string{"module.vpc.aws_vpc.this"},
		OIDC:   []string{"trust policy of role GitHubActionsRole differs from the one bootstrap writes"},
		ArgoCD: []string{"Deployment/argocd-server is missing"}}, st.Drift)
	drifted, ok := s.drift()
	s.True(ok)
	s.True(drifted)
	s.Require().Len(s.told, 1)
	ev := s.told[0]
	s.Equal(notify.Drift, ev.Type)
	s.Equal("staging", ev.Env)
	s.Equal(api.KindDrift, ev.Kind)
	s.Contains(ev.Text, "module.vpc.aws_vpc.this")
	s.Contains(ev.Text, "starter bootstrap --env staging")
	s.Contains(strings.Join(st.Steps, "\n"), "terraform plan -refresh-only: 1 changed outside terraform: module.vpc.aws_vpc.this")
}

func (s *driftSuite) TestAFailedCheckSetsNoDriftAttribute() {
	s.env.OnActivity(ta.PlanDrift, mock.Anything, mock.Anything).
		Return(terraform.DriftOutput{}, temporal.NewNonRetryableApplicationError("terraform init in staging: no state bucket", "Config", errors.New("x"))).Once()
	s.env.ExecuteWorkflow(api.DriftWorkflowName, api.DriftInput{Env: "staging"})
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().Error(s.env.GetWorkflowError())
	_, ok := s.drift()
	s.False(ok, "a check that could not tell leaves IdpDrift unset: --drifted shows the env's last real answer")
	s.Empty(s.told)
}
