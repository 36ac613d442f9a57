package main

import (
	"context"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/drift"
)

// ensureDriftSchedules creates, updates and deletes the envs' drift schedules
// (environments[].drift). A failure is logged, not fatal: the next start tries again, and
// `starter drift` runs a check by hand meanwhile.
func ensureDriftSchedules(logger *slog.Logger, cfg *config.Config, c client.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	did, err := drift.EnsureSchedules(ctx, c.ScheduleClient(), cfg)
	for _, d := range did {
		logger.Info("drift schedule " + d)
	}
	if err != nil {
		logger.Error("drift schedules", "error", err)
	}
}
