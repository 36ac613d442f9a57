package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// servePprof, when an address is set, serves Go's profiles (heap, goroutines, CPU) at
// http://ADDR/debug/pprof/ for `go tool pprof`. They show code paths and sizes, never workflow
// data; bind it to localhost, as it has no authentication. It returns a func that stops it.
func (o options) servePprof(logger *slog.Logger) (func(), error) {
	if o.pprofAddr == "" {
		return func() {}, nil
	}
	l, err := net.Listen("tcp", o.pprofAddr)
	if err != nil {
		return nil, fmt.Errorf("serving profiles: %w (--pprof-addr, IDP_PPROF_ADDR: choose a free address, or leave it empty)", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	logger.Info("serving profiles", "url", "http://"+l.Addr().String()+"/debug/pprof/")
	return func() { _ = srv.Close() }, nil
}
