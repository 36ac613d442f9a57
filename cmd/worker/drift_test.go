package main

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestDriftSchedules: the worker's start creates one drift schedule per env of idp.yaml
// (every 6h by default), and a later start with an edited idp.yaml updates an interval and
// deletes the schedules of an env switched off and of an env removed.
func TestDriftSchedules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Temporal dev server; not part of -short")
	}
	c, err := client.Dial(client.Options{HostPort: idpDevServer(t)})
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	cfg, err := config.Load("../../idp.yaml")
	require.NoError(t, err)
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))

	ensureDriftSchedules(logger, cfg, c)
	every := func(env string) time.Duration {
		d, err := c.ScheduleClient().GetHandle(ctx, api.DriftID(env)).Describe(ctx)
		require.NoError(t, err, "schedule of %s", env)
		a := d.Schedule.Action.(*client.ScheduleWorkflowAction)
		require.Equal(t, api.DriftWorkflowName, a.Workflow)
		require.Equal(t, api.DriftID(env), a.ID)
		return d.Schedule.Spec.Intervals[0].Every
	}
	for _, env := range cfg.EnvNames() {
		require.Equal(t, 6*time.Hour, every(env), env)
	}
	require.Contains(t, logs.String(), "drift schedule created drift-dev (every 6h0m0s)")

	cfg.Environments[0].Drift.Every = config.Duration(2 * time.Hour) // dev
	cfg.Environments[1].Drift.Every = 0                              // staging: off
	cfg.Environments = cfg.Environments[:2]                          // prod removed
	// The schedules to delete are found through visibility, which lags a moment behind.
	require.Eventually(t, func() bool {
		ensureDriftSchedules(logger, cfg, c)
		return strings.Contains(logs.String(), "deleted drift-prod") && strings.Contains(logs.String(), "deleted drift-staging")
	}, 30*time.Second, time.Second, "logs:\n%s", logs)
	require.Equal(t, 2*time.Hour, every("dev"))
	require.Contains(t, logs.String(), "drift schedule deleted drift-prod (prod is no longer in idp.yaml)")
	require.Contains(t, logs.String(), "drift schedule deleted drift-staging (drift is off for staging in idp.yaml)")
	left := func() []string {
		it, err := c.ScheduleClient().List(ctx, client.ScheduleListOptions{})
		require.NoError(t, err)
		var ids []string
		for it.HasNext() {
			e, err := it.Next()
			require.NoError(t, err)
			if strings.HasPrefix(e.ID, api.DriftIDPrefix) {
				ids = append(ids, e.ID)
			}
		}
		slices.Sort(ids)
		return ids
	}
	require.Eventually(t, func() bool { return slices.Equal(left(), []string{"drift-dev"}) }, 30*time.Second, 500*time.Millisecond,
		"drift schedules left: %v", left())
}
