package argocd

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/alexpermiakov/idp/internal/observe"
)

// TestWaitsRecordTheirDuration runs WaitApp and WaitArgoCD as activities: each wait lands in
// idp_argocd_wait_seconds by env, Application and outcome.
func TestWaitsRecordTheirDuration(t *testing.T) {
	m, err := observe.NewMetrics(slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	var suite testsuite.WorkflowTestSuite
	suite.SetMetricsHandler(m.Handler)
	since := time.Now().Add(-time.Minute)
	degraded := appAt("c0ffee", "Synced", "Degraded", time.Now())
	for _, a := range []unstructured.Unstructured{
		appAt("c0ffee", "Synced", "Healthy", time.Now()),
		degraded,
		appAt("beef", "Synced", "Healthy", time.Now()),
	} {
		tb := newTestbed()
		seed(tb.kube, a)
		env := suite.NewTestActivityEnvironment()
		env.RegisterActivity(tb.a)
		_, _ = env.ExecuteActivity(tb.a.WaitApp, WaitAppInput{Snapshot: testSnapshot(), App: "time-service-prod",
			Commit: "c0ffee", Since: since, Timeout: 300 * time.Millisecond})
	}
	tb := newTestbed()
	seed(tb.kube, app("dev-apps", "Synced", "Healthy", nil))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(tb.a)
	_, err = env.ExecuteActivity(tb.a.WaitArgoCD, WaitInput{Snapshot: testSnapshot()})
	require.NoError(t, err)

	got, err := m.Read()
	require.NoError(t, err)
	for _, c := range []struct{ app, outcome string }{
		{"time-service-prod", "healthy"}, {"time-service-prod", "degraded"}, {"time-service-prod", "timeout"}, {"dev-apps", "healthy"},
	} {
		s := observe.Find(got, "idp_argocd_wait_seconds_count", map[string]string{"env": "dev", "app": c.app, "outcome": c.outcome})
		require.Len(t, s, 1, "%+v", c)
		require.Equal(t, 1.0, s[0].Value, "%+v", c)
	}
	s := observe.Find(got, "idp_argocd_wait_seconds_sum", map[string]string{"app": "time-service-prod", "outcome": "timeout"})
	require.Len(t, s, 1)
	require.GreaterOrEqual(t, s[0].Value, 0.3, "the wait took its timeout")
}
