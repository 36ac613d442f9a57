// Command worker runs idp's workflows and activities on task queue "idp".
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/alexpermiakov/idp/cmd/worker/setup"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/temporalx"
	"github.com/alexpermiakov/idp/workflows/api"
)

func main() {
	cfgPath := flag.String("config", "", "idp.yaml (default $IDP_CONFIG, else ./idp.yaml)")
	flag.Parse()
	if err := run(config.Path(*cfgPath)); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(cfgPath string) error {
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
	w := worker.New(c, api.TaskQueue, worker.Options{})
	setup.Register(w, cfg, c)
	return w.Run(worker.InterruptCh())
}
