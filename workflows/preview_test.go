package workflows

import (
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/activities/terraform"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/workflows/api"
)

// previewSnapshot is what Describe derives for pull request 7's preview of dev.
var previewSnapshot = config.Snapshot{Env: config.Environment{Name: "dev-pr-7", StateBucket: "state-dev",
	StateKey: "previews/dev-pr-7/entry/terraform.tfstate", ClusterName: "k8s-pr-7",
	Preview: &config.Preview{Base: "dev", PR: 7, Branch: "feature/x", BaseAppOfApps: "dev-apps", NamespacePrefix: "pr-7-"}}}

// destroyed is what the stand-in for DestroyEnvironment saw: its input, its workflow ID and
// when it started.
type destroyed struct {
	in  api.DestroyInput
	id  string
	at  time.Time
	ran bool
}

// mockPreview mocks a preview bootstrap that needs no approval (dev's policy), and registers
// a stand-in DestroyEnvironment, by name as the run starts it.
func (s *bootstrapSuite) mockPreview(argoWait time.Duration) *destroyed {
	s.env.OnActivity(pa.Describe, mock.Anything, platform.DescribeInput{Env: "dev", PR: 7}).Return(platform.DescribeOutput{
		Snapshot: previewSnapshot, Commit: commit, AccountID: "111111111111", StateBucket: "state-dev", GitHubRole: "GitHubActionsRole", GrantPull: true}, nil).Once()
	s.env.OnActivity(aa.EnsureStateBackend, mock.Anything, aws.StateBackendInput{Snapshot: previewSnapshot}).
		Return(aws.StateBackendOutput{Bucket: "state-dev"}, nil).Once()
	s.env.OnActivity(aa.EnsureGitHubOIDC, mock.Anything, aws.OIDCInput{Snapshot: previewSnapshot}).
		Return(aws.OIDCOutput{RoleARN: "arn:aws:iam::111111111111:role/GitHubActionsRole"}, nil).Once()
	s.env.OnActivity(ta.Plan, mock.Anything, mock.Anything).Return(terraform.PlanOutput{Summary: terraform.Summary{SHA256: planSHA}}, nil).Once()
	s.env.OnActivity(ar.InstallArgoCD, mock.Anything, argocd.InstallInput{Snapshot: previewSnapshot, Commit: commit}).
		Return(argocd.InstallOutput{Version: "v2.14.21", Objects: 60}, nil).Once()
	s.env.OnActivity(ar.WaitArgoCD, mock.Anything, argocd.WaitInput{Snapshot: previewSnapshot}).After(argoWait).
		Return(argocd.WaitOutput{Apps: []argocd.AppStatus{{Name: "dev-pr-7-apps", Sync: "Synced", Health: "Healthy"}}}, nil).Once()
	d := &destroyed{}
	s.env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in api.DestroyInput) error {
		d.in, d.id, d.at, d.ran = in, workflow.GetInfo(ctx).WorkflowExecution.ID, workflow.Now(ctx), true
		return nil
	}, workflow.RegisterOptions{Name: api.DestroyWorkflowName})
	return d
}

func (s *bootstrapSuite) startPreview(ttl time.Duration) time.Time {
	started := s.env.Now()
	s.env.ExecuteWorkflow(api.BootstrapWorkflowName, api.BootstrapInput{Env: "dev", PR: 7, TTL: ttl, Requester: "alice"})
	return started
}

func (s *bootstrapSuite) TestPreviewExpiresByItsTTLAndStartsTheDestroy() {
	d := s.mockPreview(0)
	var live api.Status
	s.env.RegisterDelayedCallback(func() { live = s.status() }, time.Hour)
	started := s.startPreview(3 * time.Hour)

	s.True(s.env.IsWorkflowCompleted())
	s.Equal(api.StageDone, live.Stage, "the preview is up and waits for its TTL")
	s.Equal([]api.EnvStatus{{Name: "dev-pr-7", State: "done", Commit: commit}}, live.Environments)
	s.Require().NotNil(live.Preview)
	s.Require().NotNil(live.Preview.ExpiresAt)
	s.near(started.Add(3*time.Hour), *live.Preview.ExpiresAt)
	s.Equal("feature/x", live.Preview.Branch)
	s.Empty(live.Preview.Destroy)

	s.Require().True(d.ran, "DestroyEnvironment started")
	s.Equal(api.DestroyInput{Env: "dev", PR: 7, Requester: "alice"}, d.in)
	s.Equal("destroy-dev-pr-7", d.id)
	s.Equal(live.Preview.ExpiresAt.UTC(), d.at.UTC(), "at the expiry the status showed")
	st := s.result()
	s.Equal("destroy-dev-pr-7", st.Preview.Destroy)
	s.Contains(st.Steps, "preview dev-pr-7 ends: its time to live ran out; starting destroy-dev-pr-7")
	s.Contains(st.Steps, "ECR pull for account 111111111111: the preview uses dev's grant", "no grant statement of its own")
}

func (s *bootstrapSuite) TestPreviewExtendResetsTheTimer() {
	d := s.mockPreview(0)
	var extended api.Status
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(api.ExtendSignal, api.ExtendInput{TTL: 10 * time.Hour, Who: "bob"})
	}, 2*time.Hour)
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(api.ExtendSignal, api.ExtendInput{Who: "carol"}) // no TTL: ignored
	}, 3*time.Hour)
	s.env.RegisterDelayedCallback(func() { extended = s.status() }, 4*time.Hour)
	started := s.startPreview(3 * time.Hour)

	s.Require().NotNil(extended.Preview)
	s.Equal(started.Add(12*time.Hour).UTC(), extended.Preview.ExpiresAt.UTC(), "now + 10h when the signal came at 2h")
	s.Require().True(d.ran)
	s.Equal(started.Add(12*time.Hour).UTC(), d.at.UTC(), "not at the first TTL (3h)")
	st := s.result()
	s.Contains(st.Steps, "preview dev-pr-7 extended by bob: expires at "+started.Add(12*time.Hour).UTC().Format(time.RFC3339))
	s.Contains(st.Steps, "extend signal from carol ignored: its TTL must be above 0")
}

func (s *bootstrapSuite) TestPreviewDestroySignalEndsItEarly() {
	d := s.mockPreview(0)
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(api.DestroySignal, api.DestroyRequest{Who: "bob"})
	}, time.Hour)
	started := s.startPreview(0)

	s.Require().True(d.ran)
	s.Equal(started.Add(time.Hour).UTC(), d.at.UTC())
	s.Equal(api.DestroyInput{Env: "dev", PR: 7, Requester: "bob"}, d.in)
	st := s.result()
	s.near(started.Add(api.DefaultPreviewTTL), *st.Preview.ExpiresAt) // 72h by default
	s.Contains(st.Steps, "preview dev-pr-7 ends: destroy requested by bob; starting destroy-dev-pr-7")
}

// An extend sent while the preview is still being bootstrapped counts from when it is up.
func (s *bootstrapSuite) TestPreviewExtendDuringTheBootstrapCountsOnceItIsUp() {
	d := s.mockPreview(30 * time.Minute)
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(api.ExtendSignal, api.ExtendInput{TTL: 5 * time.Hour, Who: "bob"})
	}, 10*time.Minute)
	started := s.startPreview(time.Hour)

	s.Require().True(d.ran)
	s.near(started.Add(30*time.Minute+5*time.Hour), d.at)
}

// near checks that got is want give or take the few seconds the test's notifications retry for.
func (s *bootstrapSuite) near(want, got time.Time) {
	s.T().Helper()
	s.WithinDuration(want, got, time.Minute)
}

// `starter destroy --pr` signals the signed request: the destroy runs with it, so it checks
// that person's signature, not the preview requester's.
func (s *bootstrapSuite) TestPreviewDestroySignalCarriesTheSignedRequest() {
	d := s.mockPreview(0)
	asked := api.DestroyInput{Env: "dev", PR: 7, Requester: "bob", Signature: "sig", SignedAt: time.Unix(1700000000, 0).UTC()}
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(api.DestroySignal, api.DestroyRequest{Who: "bob", Input: &asked})
	}, time.Hour)
	s.startPreview(0)

	s.Require().True(d.ran)
	s.Equal(asked, d.in)
	s.Contains(s.result().Steps, "preview dev-pr-7 ends: destroy requested by bob; starting destroy-dev-pr-7")
}

// A signed request for another preview is not taken: this preview's destroy runs as the
// signal's sender, unsigned, as before.
func (s *bootstrapSuite) TestPreviewDestroySignalForAnotherPreviewKeepsThisOne() {
	d := s.mockPreview(0)
	other := api.DestroyInput{Env: "dev", PR: 8, Requester: "bob"}
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(api.DestroySignal, api.DestroyRequest{Who: "bob", Input: &other})
	}, time.Hour)
	s.startPreview(0)

	s.Require().True(d.ran)
	s.Equal(api.DestroyInput{Env: "dev", PR: 7, Requester: "bob"}, d.in)
}

// A preview whose bootstrap failed after terraform ran for it is destroyed at once: what it
// created does not wait for anyone to remember it.
func (s *bootstrapSuite) TestAFailedPreviewIsDestroyed() {
	s.env.OnActivity(pa.Describe, mock.Anything, platform.DescribeInput{Env: "dev", PR: 7}).Return(platform.DescribeOutput{
		Snapshot: previewSnapshot, Commit: commit, AccountID: "111111111111", StateBucket: "state-dev", GitHubRole: "GitHubActionsRole"}, nil).Once()
	s.env.OnActivity(aa.EnsureStateBackend, mock.Anything, mock.Anything).Return(aws.StateBackendOutput{Bucket: "state-dev"}, nil).Once()
	s.env.OnActivity(aa.EnsureGitHubOIDC, mock.Anything, mock.Anything).Return(aws.OIDCOutput{RoleARN: "arn:aws:iam::111111111111:role/GitHubActionsRole"}, nil).Once()
	s.env.OnActivity(ta.Plan, mock.Anything, mock.Anything).Return(terraform.PlanOutput{Summary: terraform.Summary{SHA256: planSHA, Add: 3}}, nil).Once()
	s.env.OnActivity(ta.Apply, mock.Anything, mock.Anything).Return(terraform.ApplyOutput{},
		temporal.NewNonRetryableApplicationError("the EKS cluster k8s-pr-7 failed to create", "TerraformApply", nil))
	d := &destroyed{}
	s.env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in api.DestroyInput) error {
		d.in, d.id, d.ran = in, workflow.GetInfo(ctx).WorkflowExecution.ID, true
		return nil
	}, workflow.RegisterOptions{Name: api.DestroyWorkflowName})
	s.startPreview(time.Hour)

	s.Require().True(s.env.IsWorkflowCompleted())
	s.Error(s.env.GetWorkflowError())
	s.Require().True(d.ran, "the failed preview's destroy started")
	s.Equal(api.DestroyInput{Env: "dev", PR: 7, Requester: "alice"}, d.in)
	s.Equal("destroy-dev-pr-7", d.id)
	st := s.status()
	s.Equal(api.StageFailed, st.Stage)
	s.Equal("destroy-dev-pr-7", st.Preview.Destroy)
}

// A preview refused before anything ran (here: its config) starts no destroy.
func (s *bootstrapSuite) TestAPreviewRefusedBeforeTerraformStartsNoDestroy() {
	s.env.OnActivity(pa.Describe, mock.Anything, mock.Anything).Return(platform.DescribeOutput{},
		temporal.NewNonRetryableApplicationError("pull request 7 has no head branch", "Config", nil))
	d := &destroyed{}
	s.env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in api.DestroyInput) error {
		d.ran = true
		return nil
	}, workflow.RegisterOptions{Name: api.DestroyWorkflowName})
	s.startPreview(time.Hour)

	s.Require().True(s.env.IsWorkflowCompleted())
	s.Error(s.env.GetWorkflowError())
	s.False(d.ran)
}
