// Package health serves the worker's health endpoints and probes them, so a container's
// HEALTHCHECK can run the worker binary itself (the runtime image has no curl).
//
//	/healthz  200 while the worker polls its task queue (liveness)
//	/readyz   200 while it polls and the Temporal frontend answers (readiness)
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// EnvAddr names the variable that turns the endpoints on (e.g. ":8081"); --health-addr
// overrides it. Unset and no flag: no listener.
const EnvAddr = "IDP_HEALTH_ADDR"

// checkTimeout bounds one readiness check of Temporal.
const checkTimeout = 3 * time.Second

// Server serves /healthz and /readyz.
type Server struct {
	running atomic.Bool
	ready   func(context.Context) error
	ln      net.Listener
	srv     *http.Server
}

// Listen starts serving on addr. ready reports whether the worker's dependencies answer
// (the Temporal frontend); it is called on every /readyz with a short deadline.
func Listen(addr string, ready func(context.Context) error) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("health endpoint on %s ($%s or --health-addr): %w", addr, EnvAddr, err)
	}
	s := &Server{ready: ready, ln: ln}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// SetRunning records whether the worker polls its task queue; on a nil Server (health
// endpoint off) it does nothing.
func (s *Server) SetRunning(running bool) {
	if s != nil {
		s.running.Store(running)
	}
}

// Close stops serving; a nil Server has nothing to stop.
func (s *Server) Close() error {
	if s == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	if !s.running.Load() {
		http.Error(w, "worker not running", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.running.Load() {
		http.Error(w, "worker not running", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		http.Error(w, "temporal: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// ProbeURL is the readiness URL for a listen address: a bare port or a wildcard host is
// probed on the loopback interface.
func ProbeURL(addr string) (string, error) {
	if addr == "" {
		return "", fmt.Errorf("no health address: set $%s (e.g. :8081) for both the worker and the probe", EnvAddr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("health address %q: %w (want host:port or :port)", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}

// Probe asks the worker listening on addr whether it is ready; nil means HTTP 200.
func Probe(ctx context.Context, addr string) error {
	url, err := ProbeURL(addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout+2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probing %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return errors.New(url + ": " + resp.Status + ": " + strings.TrimSpace(string(body)))
	}
	return nil
}
