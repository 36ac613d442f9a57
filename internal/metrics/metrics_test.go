package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/alexpermiakov/idp/internal/metrics"
	"github.com/alexpermiakov/idp/internal/observe"
)

// scrape reads m's registry as a scrape of /metrics would.
func scrape(t *testing.T, m *observe.Metrics) []observe.Series {
	t.Helper()
	s, err := m.Read()
	require.NoError(t, err)
	return s
}

func one(t *testing.T, series []observe.Series, name string, labels map[string]string) float64 {
	t.Helper()
	got := observe.Find(series, name, labels)
	require.Len(t, got, 1, "%s%v", name, labels)
	return got[0].Value
}

func TestWorkflowSideMetrics(t *testing.T) {
	m, err := observe.NewMetrics(slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	metrics.Promotion(m.Handler, "prod", "time-service", metrics.Succeeded)
	metrics.Promotion(m.Handler, "prod", "time-service", metrics.Succeeded)
	metrics.Promotion(m.Handler, "staging", "time-service", metrics.RolledBack)
	metrics.Rollback(m.Handler, "staging", "time-service")
	metrics.Approval(m.Handler, "promote", "prod", metrics.Approved, 10*time.Minute)
	metrics.Lead(m.Handler, "prod", "time-service", time.Hour)

	s := scrape(t, m)
	require.Equal(t, 2.0, one(t, s, "idp_promotions_total", map[string]string{"env": "prod", "service": "time-service", "outcome": "succeeded"}))
	require.Equal(t, 1.0, one(t, s, "idp_promotions_total", map[string]string{"env": "staging", "service": "time-service", "outcome": "rolled_back"}))
	require.Equal(t, 1.0, one(t, s, "idp_rollbacks_total", map[string]string{"env": "staging", "service": "time-service"}))
	require.Equal(t, 600.0, one(t, s, "idp_approval_wait_seconds_sum", map[string]string{"kind": "promote", "env": "prod", "outcome": "approved"}))
	require.Equal(t, 3600.0, one(t, s, "idp_lead_time_seconds_sum", map[string]string{"env": "prod", "service": "time-service"}))
}

// TestActivitySideMetricsAndLogs runs the activity-side recorders in an activity: the
// duration lands in the registry, and the log line names the workflow and run.
func TestActivitySideMetricsAndLogs(t *testing.T) {
	m, err := observe.NewMetrics(slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	var logs bytes.Buffer
	var suite testsuite.WorkflowTestSuite
	suite.SetMetricsHandler(m.Handler)
	suite.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(func(ctx context.Context) error {
		metrics.Apply(ctx, "dev", metrics.Succeeded, time.Now().Add(-2*time.Second))
		metrics.Wait(ctx, "dev", "time-service-dev", metrics.Degraded, time.Now().Add(-time.Second))
		return nil
	}, activity.RegisterOptions{Name: "Observe"})
	_, err = env.ExecuteActivity("Observe")
	require.NoError(t, err)

	s := scrape(t, m)
	require.InDelta(t, 2.0, one(t, s, "idp_terraform_apply_seconds_sum", map[string]string{"env": "dev", "outcome": "succeeded", "activity_type": "Observe"}), 0.5)
	require.Equal(t, 1.0, one(t, s, "idp_argocd_wait_seconds_count", map[string]string{"env": "dev", "app": "time-service-dev", "outcome": "degraded"}))

	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var line map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &line), l)
		if line["msg"] == "terraform apply ended" || line["msg"] == "Argo CD wait ended" {
			lines = append(lines, line)
		}
	}
	require.Len(t, lines, 2, logs.String())
	for _, l := range lines {
		require.Equal(t, "default-test-workflow-id", l["WorkflowID"])
		require.Equal(t, "default-test-run-id", l["RunID"])
		require.Equal(t, "dev", l["env"])
	}

	// outside an activity (a unit test calling an activity method) nothing is recorded
	metrics.Apply(context.Background(), "staging", metrics.Failed, time.Now())
	require.Empty(t, observe.Find(scrape(t, m), "idp_terraform_apply_seconds_count", map[string]string{"env": "staging"}))
}
