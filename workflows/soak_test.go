package workflows

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

// dev is the entry env of a sha tag, soaking 2 minutes before staging.
func dev() policy.Env {
	return policy.Env{Name: "dev", App: "time-service-dev", Root: "dev-apps", Soak: 2 * time.Minute, HealthTimeout: 3 * time.Minute,
		Snapshot: config.Snapshot{Env: config.Environment{Name: "dev"}}}
}

// stagingAfterDev is staging as the shipped idp.yaml has it: the digest must have run
// Healthy in dev first.
func stagingAfterDev() policy.Env {
	e := staging()
	e.RequirePassed, e.PassedSnapshot = "dev", &config.Snapshot{Env: config.Environment{Name: "dev"}}
	return e
}

// soakFails mocks dev's soak ending with err.
func (s *promoteSuite) soakFails(commit string, err error) {
	s.env.OnActivity(ar.Soak, mock.Anything, mock.MatchedBy(func(in argocd.SoakInput) bool { return in.Commit == commit })).
		Return(argocd.SoakOutput{}, err).Once()
}

// TestSoakWatchesBeforeGoingOn: dev's Application is watched for dev's soak, Healthy at the
// image, before staging; staging, the last env of the run, is not soaked. The status shows the
// soak while it lasts, with when it ends.
func (s *promoteSuite) TestSoakWatchesBeforeGoingOn() {
	s.path(dev(), stagingAfterDev())
	s.direct("dev", "c-dev")
	var during api.Status
	s.env.OnActivity(ar.Soak, mock.Anything, mock.Anything).Return(func(_ context.Context, in argocd.SoakInput) (argocd.SoakOutput, error) {
		s.Equal(argocd.SoakInput{Snapshot: in.Snapshot, App: "time-service-dev", Commit: "c-dev", Image: image,
			ManifestPath: "argocd/applications/dev/time-service.yaml", Duration: 2 * time.Minute, DegradedFor: degradedFor,
			UnhealthyFor: 3 * time.Minute}, in)
		s.Equal("dev", in.Snapshot.Env.Name)
		return argocd.SoakOutput{Status: argocd.AppStatus{Sync: "Synced", Health: "Healthy"}, Watched: in.Duration}, nil
	}).Once()
	s.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == "Soak" {
			during = s.status()
		}
	})
	s.direct("staging", "c-stg")
	s.start("staging")
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Equal(api.EnvSoaking, during.Environments[0].State)
	s.Equal(api.StageSoaking, during.Stage)
	s.Require().NotNil(during.Environments[0].SoakUntil, "status says until when dev soaks")
	s.Equal(api.EnvPending, during.Environments[1].State, "staging waits for dev's soak")
	s.Equal(api.EnvDone, st.Environments[0].State)
	s.Nil(st.Environments[0].SoakUntil)
	s.Equal(api.EnvDone, st.Environments[1].State)
	s.Contains(st.Steps, "staging is the last env of this run: no soak (promotion.soak 1m0s applies before going on from it)")
	s.True(slices.ContainsFunc(st.Steps, func(l string) bool { return strings.HasPrefix(l, "dev: watching time-service-dev for 2m0s (until ") }), "%q", st.Steps)
}

// TestDegradedDuringSoakIsRolledBack: dev turns Degraded during its soak: the image is rolled
// back there as after a failed verification (compare-and-swap over our own image), and the
// run never reaches staging.
func (s *promoteSuite) TestDegradedDuringSoakIsRolledBack() {
	s.path(dev(), stagingAfterDev())
	s.direct("dev", "c-dev")
	s.soakFails("c-dev", fail.New(argocd.ErrDegraded,
		`time-service-dev in dev is Degraded at c-dev for 15s during its soak: Deployment "time-service" exceeded its progress deadline`))
	s.env.OnActivity(ga.WriteImage, mock.Anything, mock.MatchedBy(func(in git.WriteImageInput) bool {
		return in.Env == "dev" && in.Image == oldImg && in.Expect == image
	})).Return(git.WriteImageOutput{Commit: "c-revert", Changed: true, Previous: image}, nil).Once()
	s.healthy("dev", "c-revert")
	s.start("staging")
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, api.ErrRolledBack), "%v", err)
	s.ErrorContains(err, "time-service v1.2.3 did not stay healthy in dev: time-service-dev in dev is Degraded at c-dev for 15s during its soak")
	s.ErrorContains(err, "rolled back to "+oldImg)
	st := s.status()
	s.Equal(api.StageFailed, st.Stage)
	s.Equal(api.EnvStatus{Name: "dev", State: api.EnvRolledBack, Image: oldImg, Commit: "c-revert", Previous: oldImg}, st.Environments[0])
	s.Equal(api.EnvPending, st.Environments[1].State, "nothing went to staging")
}

// TestReplacedDuringSoakIsSuperseded: a later promotion replaced our image in dev during the
// soak: the env is someone else's now; nothing is rolled back and the run goes no further.
func (s *promoteSuite) TestReplacedDuringSoakIsSuperseded() {
	s.path(dev(), stagingAfterDev())
	s.direct("dev", "c-dev")
	s.soakFails("c-dev", fail.New(argocd.ErrReplaced, "argocd/applications/dev/time-service.yaml at c-later no longer holds "+image+": a later change replaced it"))
	s.start("staging")
	s.Require().NoError(s.env.GetWorkflowError())
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Equal(api.EnvSuperseded, st.Environments[0].State)
	s.Equal(api.EnvPending, st.Environments[1].State)
	s.Contains(st.Steps[len(st.Steps)-1], "neither failed nor rolled back")
}

// TestLastEnvIsNotSoaked: a run that ends in staging ends when staging is Healthy: no soak,
// no workflow time spent on it.
func (s *promoteSuite) TestLastEnvIsNotSoaked() {
	s.path(staging())
	s.direct("staging", "c-stg")
	s.env.OnActivity(ar.Soak, mock.Anything, mock.Anything).Return(argocd.SoakOutput{}, nil).Maybe()
	start := s.env.Now()
	s.start("")
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.env.AssertNumberOfCalls(s.T(), "Soak", 0)
	s.Less(s.env.Now().Sub(start), time.Minute, "no timer for staging's soak either")
	s.Contains(st.Steps, "staging is the last env of this run: no soak (promotion.soak 1m0s applies before going on from it)")
}

// TestNeverRanInDevIsRefusedAtStaging: a v* tag whose digest never ran Healthy in dev is
// refused at staging, with the reason, before anything is written there.
func (s *promoteSuite) TestNeverRanInDevIsRefusedAtStaging() {
	s.path(stagingAfterDev())
	const reason = "time-service-dev runs 864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:sha-1a2b3c4@sha256:aaaa, which is sha256:aaaa"
	s.env.OnActivity(ar.Passed, mock.Anything, mock.MatchedBy(func(in argocd.PassedInput) bool {
		return in.Snapshot.Env.Name == "dev" && in.App == "time-service-dev" && in.Service == "time-service" && in.Digest == digest
	})).Return(argocd.PassedOutput{Reason: reason}, nil).Once()
	s.start("")
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, api.ErrNotPassed), "%v", err)
	s.ErrorContains(err, "time-service v1.2.3 (111111111111) has not run Healthy in dev, which policy requires first: "+reason)
	st := s.status()
	s.Equal(api.StageFailed, st.Stage)
	s.Equal(api.EnvFailed, st.Environments[0].State)
	s.Empty(st.Environments[0].Commit, "nothing was written to staging")
}
