// Command worker runs idp's workflows and activities on task queue "idp".
//
// `worker healthcheck` asks a running worker whether it is ready (for a container's
// HEALTHCHECK): exit 0 when it is, 1 with the reason when not.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/alexpermiakov/idp/cmd/worker/health"
	"github.com/alexpermiakov/idp/cmd/worker/setup"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/temporalx"
	"github.com/alexpermiakov/idp/workflows/api"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		if err := health.Probe(context.Background(), os.Getenv(health.EnvAddr)); err != nil {
			fmt.Fprintln(os.Stderr, "worker healthcheck:", err)
			os.Exit(1)
		}
		return
	}
	cfgPath := flag.String("config", "", "idp.yaml (default $IDP_CONFIG, else ./idp.yaml)")
	healthAddr := flag.String("health-addr", os.Getenv(health.EnvAddr), "serve /healthz and /readyz on this address, e.g. :8081 (default $"+health.EnvAddr+"; off when empty)")
	flag.Parse()
	if err := run(config.Path(*cfgPath), *healthAddr); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(cfgPath, healthAddr string) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	logger := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	opts, err := temporalx.Options(logger)
	if err != nil {
		return err
	}
	c, err := client.Dial(opts)
	if err != nil {
		return fmt.Errorf("connecting to Temporal at %s, namespace %s: %w", opts.HostPort, opts.Namespace, err)
	}
	defer c.Close()
	var hs *health.Server
	if healthAddr != "" {
		hs, err = health.Listen(healthAddr, func(ctx context.Context) error {
			_, err := c.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		})
		if err != nil {
			return err
		}
		defer hs.Close()
	}
	fatal := make(chan error, 1)
	w := worker.New(c, api.TaskQueue, worker.Options{OnFatalError: func(err error) {
		select {
		case fatal <- err:
		default:
		}
	}})
	setup.Register(w, cfg, c)
	// Start and wait rather than Run, so the health endpoint knows when polling began.
	if err := w.Start(); err != nil {
		return err
	}
	if hs != nil {
		hs.SetRunning(true)
	}
	select {
	case <-worker.InterruptCh():
	case err = <-fatal:
	}
	if hs != nil {
		hs.SetRunning(false)
	}
	w.Stop()
	return err
}
