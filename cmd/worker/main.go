// Command worker runs idp's workflows and activities on task queue "idp".
//
// `worker healthcheck` asks a running worker whether it is ready (for a container's
// HEALTHCHECK): exit 0 when it is, 1 with the reason when not.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/alexpermiakov/idp/cmd/worker/events"
	"github.com/alexpermiakov/idp/cmd/worker/health"
	"github.com/alexpermiakov/idp/cmd/worker/setup"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/observe"
	"github.com/alexpermiakov/idp/internal/temporalx"
	"github.com/alexpermiakov/idp/workflows/api"
)

// options are the worker's flags; each defaults to an environment variable.
type options struct {
	config      string
	metricsAddr string
	pprofAddr   string
	healthAddr  string
	eventsAddr  string
	logFormat   string
	logLevel    string
	// workflowCache is how many workflow runs the worker keeps in memory between their tasks
	// (empty: defaultWorkflowCache).
	workflowCache string
	// stderr receives the logs.
	stderr io.Writer
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		if err := health.Probe(context.Background(), os.Getenv(health.EnvAddr)); err != nil {
			fmt.Fprintln(os.Stderr, "worker healthcheck:", err)
			os.Exit(1)
		}
		return
	}
	o := options{stderr: os.Stderr}
	flag.StringVar(&o.config, "config", "", "idp.yaml (default $IDP_CONFIG, else ./idp.yaml)")
	flag.StringVar(&o.metricsAddr, "metrics-addr", os.Getenv("IDP_METRICS_ADDR"),
		"serve Prometheus metrics at http://ADDR"+observe.MetricsPath+", e.g. :9090 ($IDP_METRICS_ADDR; empty: off)")
	flag.StringVar(&o.healthAddr, "health-addr", os.Getenv(health.EnvAddr),
		"serve /healthz and /readyz on this address, e.g. :8081 ($"+health.EnvAddr+"; empty: off)")
	flag.StringVar(&o.eventsAddr, "events-addr", os.Getenv(events.EnvAddr),
		"serve ECR push events at http://ADDR"+events.Path+" ($"+events.EnvAddr+"; default imageWatch.events.addr in idp.yaml; empty: off)")
	flag.StringVar(&o.pprofAddr, "pprof-addr", os.Getenv("IDP_PPROF_ADDR"),
		"serve Go profiles at http://ADDR/debug/pprof/, e.g. 127.0.0.1:6060 ($IDP_PPROF_ADDR; empty: off)")
	flag.StringVar(&o.logFormat, "log-format", os.Getenv("IDP_LOG_FORMAT"),
		"json or text ($IDP_LOG_FORMAT; default: text on a terminal, else json)")
	flag.StringVar(&o.logLevel, "log-level", os.Getenv("IDP_LOG_LEVEL"), "debug, info, warn or error ($IDP_LOG_LEVEL; default info)")
	flag.StringVar(&o.workflowCache, "workflow-cache", os.Getenv("IDP_WORKFLOW_CACHE"),
		"how many workflow runs stay in memory between their tasks ($IDP_WORKFLOW_CACHE; default "+strconv.Itoa(defaultWorkflowCache)+
			"); the others replay their history when they next have work")
	flag.Parse()
	if err := run(o, worker.InterruptCh()); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

// run runs the worker until stop yields.
func run(o options, stop <-chan interface{}) error {
	logger, err := o.validate()
	if err != nil {
		return err
	}
	cfg, err := config.Load(config.Path(o.config))
	if err != nil {
		return err
	}
	opts, err := temporalx.Options(tlog.NewStructuredLogger(logger))
	if err != nil {
		return err
	}
	closeMetrics, err := o.serveMetrics(logger, &opts)
	if err != nil {
		return err
	}
	defer closeMetrics()
	closePprof, err := o.servePprof(logger)
	if err != nil {
		return err
	}
	defer closePprof()
	c, err := client.Dial(opts)
	if err != nil {
		return fmt.Errorf("connecting to Temporal at %s, namespace %s: %w", opts.HostPort, opts.Namespace, err)
	}
	defer c.Close()
	hs, err := o.serveHealth(c)
	if err != nil {
		return err
	}
	defer hs.Close()
	es, err := o.serveEvents(logger, cfg, c)
	if err != nil {
		return err
	}
	defer es.Close()
	cache, _ := o.cacheSize()
	worker.SetStickyWorkflowCacheSize(cache)
	fatal := make(chan error, 1)
	w := worker.New(c, api.TaskQueue, workerOptions(fatal))
	setup.Register(w, cfg, c)
	ensureSchedules(logger, cfg, c)
	ensureDriftSchedules(logger, cfg, c)
	// Start and wait rather than Run, so the health endpoint knows when polling began.
	if err := w.Start(); err != nil {
		return err
	}
	hs.SetRunning(true)
	select {
	case <-stop:
	case err = <-fatal:
	}
	hs.SetRunning(false)
	w.Stop()
	return err
}

// workerOptions are the worker's: a fatal error goes to fatal.
func workerOptions(fatal chan<- error) worker.Options {
	return worker.Options{OnFatalError: func(err error) {
		select {
		case fatal <- err:
		default:
		}
	},
		// A heartbeat reaches the server within 2 s: terraform apply records its state lock's
		// ID and what it created in one, which the retry after a killed worker needs.
		MaxHeartbeatThrottleInterval: 2 * time.Second,
		// Pollers follow the backlog rather than a fixed two per queue: when a hundred
		// promotions enter an env at once, their workflow tasks and their locks' queued
		// behind two polls at a time (docs/BENCHMARKS.md, the wave's handover).
		WorkflowTaskPollerBehavior: worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{}),
		ActivityTaskPollerBehavior: worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{})}
}

// serveHealth, when an address is set, serves /healthz and /readyz; ready needs Temporal to
// answer. Without an address it returns nil, whose methods do nothing.
func (o options) serveHealth(c client.Client) (*health.Server, error) {
	if o.healthAddr == "" {
		return nil, nil
	}
	return health.Listen(o.healthAddr, func(ctx context.Context) error {
		_, err := c.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err
	})
}

// validate checks every flag at once and returns the worker's logger.
func (o options) validate() (*slog.Logger, error) {
	var errs []error
	logger, err := observe.NewLogger(o.stderr, o.logFormat, o.logLevel)
	if err != nil {
		errs = append(errs, fmt.Errorf("--log-format/--log-level (IDP_LOG_FORMAT, IDP_LOG_LEVEL): %w", err))
	}
	if err := checkAddr(o.metricsAddr); err != nil {
		errs = append(errs, fmt.Errorf("--metrics-addr (IDP_METRICS_ADDR) %q: %w", o.metricsAddr, err))
	}
	if err := checkAddr(o.healthAddr); err != nil {
		errs = append(errs, fmt.Errorf("--health-addr (%s) %q: %w", health.EnvAddr, o.healthAddr, err))
	}
	if err := checkAddr(o.eventsAddr); err != nil {
		errs = append(errs, fmt.Errorf("--events-addr (%s) %q: %w", events.EnvAddr, o.eventsAddr, err))
	}
	if err := checkAddr(o.pprofAddr); err != nil {
		errs = append(errs, fmt.Errorf("--pprof-addr (IDP_PPROF_ADDR) %q: %w", o.pprofAddr, err))
	}
	if _, err := o.cacheSize(); err != nil {
		errs = append(errs, err)
	}
	return logger, errors.Join(errs...)
}

// defaultWorkflowCache is how many workflow runs a worker keeps in memory by default. The
// Temporal SDK keeps 10,000, which holds every parked promotion (one waiting days for an
// approval) with its goroutines; a run past the cache replays its history (a promotion's is
// about a hundred events: milliseconds) when an approval, a signal or an activity's result
// arrives. 256 holds the runs that have work on a busy worker (a wave of 100 promotions, the
// per-branch turns, the schedules).
const defaultWorkflowCache = 256

// cacheSize is --workflow-cache as a number.
func (o options) cacheSize() (int, error) {
	if o.workflowCache == "" {
		return defaultWorkflowCache, nil
	}
	n, err := strconv.Atoi(o.workflowCache)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("--workflow-cache (IDP_WORKFLOW_CACHE) %q: want a whole number of workflow runs, at least 1, e.g. %d", o.workflowCache, defaultWorkflowCache)
	}
	return n, nil
}

// checkAddr accepts "" (off) and host:port with a numeric port.
func checkAddr(addr string) error {
	if addr == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want HOST:PORT or :PORT, e.g. :9090 or 127.0.0.1:9090")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// serveMetrics, when an address is set, puts the Prometheus handler into opts and serves it;
// the returned func stops the server.
func (o options) serveMetrics(logger *slog.Logger, opts *client.Options) (func(), error) {
	if o.metricsAddr == "" {
		return func() {}, nil
	}
	m, err := observe.NewMetrics(logger)
	if err != nil {
		return nil, err
	}
	srv, err := observe.Serve(o.metricsAddr, m)
	if err != nil {
		return nil, fmt.Errorf("%w (--metrics-addr, IDP_METRICS_ADDR: choose a free address, or leave it empty)", err)
	}
	opts.MetricsHandler = m.Handler
	logger.Info("serving metrics", "url", "http://"+srv.Addr+observe.MetricsPath)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
		_ = m.Shutdown(ctx)
	}, nil
}
