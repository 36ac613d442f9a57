package main

import (
	"context"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/cmd/worker/events"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/internal/imagewatch/schedule"
)

// serveEvents, when an address is set (--events-addr, $IDP_EVENTS_ADDR, else
// imageWatch.events.addr), serves the ECR push event endpoint. Without its secret the worker
// does not start: an endpoint anyone may call would start promotions for anyone.
func (o options) serveEvents(logger *slog.Logger, cfg *config.Config, c client.Client) (*events.Server, error) {
	addr := o.eventsAddr
	if addr == "" {
		addr = cfg.ImageWatch.Events.Addr
	}
	if addr == "" {
		return nil, nil
	}
	secret, err := cfg.ImageWatch.Events.EventsSecret()
	if err != nil {
		return nil, err
	}
	h := &events.Handler{Config: cfg, Secret: secret, Client: c, Log: logger,
		Pinned: func(ctx context.Context, env, service string) (*controls.Pin, error) {
			st, err := controls.Get(ctx, c, env)
			if err != nil {
				return nil, err
			}
			return controls.PinOf(st.Pins, service), nil
		}}
	if prs := cfg.Previews.PullRequests; prs.On() {
		h.PullRequests = &events.PullRequests{Previews: prs, Secret: secret, Client: c, Log: logger}
	}
	srv, err := events.Listen(addr, h)
	if err != nil {
		return nil, err
	}
	logger.Info("serving ECR push events", "url", "http://"+srv.Addr()+events.Path, "header", cfg.ImageWatch.Events.Header)
	if h.PullRequests != nil {
		logger.Info("serving GitHub pull_request webhooks for previews", "url", "http://"+srv.Addr()+events.GitHubPath,
			"base", cfg.Previews.PullRequests.Base)
	}
	return srv, nil
}

// ensureSchedules creates or updates the polling schedules (imageWatch.poll). A failure is
// logged, not fatal: the schedules are a fallback, and the next start tries again.
func ensureSchedules(logger *slog.Logger, cfg *config.Config, c client.Client) {
	if !cfg.ImageWatch.Poll.PollEnabled() {
		logger.Info("image watch polling is off (imageWatch.poll.enabled: false)")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	did, err := schedule.EnsureSchedules(ctx, c.ScheduleClient(), cfg)
	for _, d := range did {
		logger.Info("image watch schedule " + d)
	}
	if err != nil {
		logger.Error("image watch schedules", "error", err)
	}
}
