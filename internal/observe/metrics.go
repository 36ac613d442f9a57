// Package observe is how the worker shows what it does: one Prometheus registry holding the
// Temporal SDK's metrics and idp's own (internal/metrics names and records those), served
// over HTTP, and structured logs through log/slog. cmd/worker and the tests that run a worker
// in process build them the same way.
package observe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// MetricsPath is where the metrics server serves the registry.
const MetricsPath = "/metrics"

// Metrics is one Prometheus registry fed by Temporal's OpenTelemetry metrics handler: the
// SDK's own metrics (temporal_*), idp's (idp_*), which workflows and activities record
// through the same handler, and the Go runtime's and the process's.
type Metrics struct {
	// Handler goes into client.Options.MetricsHandler.
	Handler  client.MetricsHandler
	registry *prometheus.Registry
	provider *sdkmetric.MeterProvider
}

// NewMetrics builds the registry and the handler. A metric the SDK cannot create is logged to
// logger rather than stopping the worker (the handler's default is to panic).
func NewMetrics(logger *slog.Logger) (*Metrics, error) {
	reg := prometheus.NewRegistry()
	if err := errors.Join(reg.Register(collectors.NewGoCollector()),
		reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))); err != nil {
		return nil, fmt.Errorf("registering runtime metrics: %w", err)
	}
	// Scope labels and target_info would repeat on every series what the job label says.
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("creating the Prometheus exporter: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithView(views()...))
	h := temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter: provider.Meter("idp"),
		// Counters only go up: exposed as Prometheus counters (_total), so rate() works.
		UseMonotonicCounters: true,
		OnError:              func(err error) { logger.Error("recording a metric", "error", err) },
	})
	return &Metrics{Handler: h, registry: reg, provider: provider}, nil
}

// Bucket boundaries, in seconds. The SDK's timers are request and task latencies; idp's are
// terraform applies and Argo CD waits (seconds to an hour) and approvals and lead times
// (minutes to days).
var (
	sdkBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	idpBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400, 259200, 604800}
)

func views() []sdkmetric.View {
	hist := func(name string, bounds []float64) sdkmetric.View {
		return sdkmetric.NewView(sdkmetric.Instrument{Name: name, Kind: sdkmetric.InstrumentKindHistogram},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: bounds}})
	}
	return []sdkmetric.View{hist("temporal_*", sdkBuckets), hist("idp_*", idpBuckets)}
}

// HTTPHandler serves the registry in Prometheus' text format (OpenMetrics when asked).
func (m *Metrics) HTTPHandler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Read returns what a scrape would show, without HTTP.
func (m *Metrics) Read() ([]Series, error) {
	families, err := m.registry.Gather()
	if err != nil {
		return nil, err
	}
	var out []Series
	for _, f := range families {
		for _, s := range f.GetMetric() {
			out = append(out, flatten(f.GetName(), s)...)
		}
	}
	return out, nil
}

// Shutdown stops the meter provider.
func (m *Metrics) Shutdown(ctx context.Context) error { return m.provider.Shutdown(ctx) }

// Server is a running metrics server.
type Server struct {
	// Addr is the address it listens on (with the port picked when the address asked for 0).
	Addr string
	srv  *http.Server
	done chan error
}

// Serve listens on addr (host:port; port 0 picks a free one) and serves the metrics at
// MetricsPath until Close. The listener is open when Serve returns, so an address in use is
// reported here rather than later.
func Serve(addr string, m *Metrics) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics server: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+MetricsPath, m.HTTPHandler())
	s := &Server{Addr: l.Addr().String(), done: make(chan error, 1),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() { s.done <- s.srv.Serve(l) }()
	return s, nil
}

// Close stops the server, letting a scrape under way finish while ctx allows.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
