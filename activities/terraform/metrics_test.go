package terraform

import (
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/alexpermiakov/idp/internal/observe"
)

// TestApplyRecordsItsDuration runs Apply as an activity: each terraform apply, whatever its
// outcome, lands in idp_terraform_apply_seconds by env and outcome; a plan refused before
// terraform runs does not.
func TestApplyRecordsItsDuration(t *testing.T) {
	t.Parallel()
	url, commit := platformRepo(t)
	m, err := observe.NewMetrics(slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	var suite testsuite.WorkflowTestSuite
	suite.SetMetricsHandler(m.Handler)
	for _, tf := range []*fakeTerraform{
		{stream: []string{applyComplete("aws_s3_bucket.b")}},
		{applyErr: errors.New("exit status 1\n"), stream: []string{diagnostic(staleMessage, "state changed")}},
		{stream: []string{applyComplete("aws_s3_bucket.b")}},
	} {
		a := withFakes(t, url, tf, &fakeStore{objects: map[string][]byte{"state-dev/" + approvedKey: approvedPlan}})
		env := suite.NewTestActivityEnvironment()
		env.RegisterActivity(a)
		_, _ = env.ExecuteActivity(a.Apply, ApplyInput{Snapshot: devSnapshot(), Commit: commit, PlanKey: approvedKey, SHA256: approvedSHA, Total: 1})
	}
	a := withFakes(t, url, &fakeTerraform{}, &fakeStore{objects: map[string][]byte{}})
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	_, err = env.ExecuteActivity(a.Apply, ApplyInput{Snapshot: devSnapshot(), Commit: commit, PlanKey: approvedKey, SHA256: approvedSHA})
	require.Error(t, err, "no plan file: terraform never runs")

	got, err := m.Read()
	require.NoError(t, err)
	count := func(outcome string) float64 {
		s := observe.Find(got, "idp_terraform_apply_seconds_count", map[string]string{"env": "dev", "outcome": outcome, "activity_type": "Apply"})
		require.Len(t, s, 1, outcome)
		return s[0].Value
	}
	require.Equal(t, 2.0, count("succeeded"))
	require.Equal(t, 1.0, count("failed"))
}
