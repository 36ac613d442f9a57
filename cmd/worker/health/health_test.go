package health

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestEndpointsFollowTheWorkerAndTemporal(t *testing.T) {
	var temporalDown atomic.Bool
	s, err := Listen("127.0.0.1:0", func(context.Context) error {
		if temporalDown.Load() {
			return errors.New("connection refused")
		}
		return nil
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	base := "http://" + s.Addr()

	// Before the worker polls: neither alive nor ready, and the probe says why.
	require.Equal(t, http.StatusServiceUnavailable, get(t, base+"/healthz"))
	require.Equal(t, http.StatusServiceUnavailable, get(t, base+"/readyz"))
	require.ErrorContains(t, Probe(context.Background(), s.Addr()), "worker not running")

	s.SetRunning(true)
	require.Equal(t, http.StatusOK, get(t, base+"/healthz"))
	require.Equal(t, http.StatusOK, get(t, base+"/readyz"))
	require.NoError(t, Probe(context.Background(), s.Addr()))

	// Temporal unreachable: still alive (no restart loop), not ready.
	temporalDown.Store(true)
	require.Equal(t, http.StatusOK, get(t, base+"/healthz"))
	require.Equal(t, http.StatusServiceUnavailable, get(t, base+"/readyz"))
	require.ErrorContains(t, Probe(context.Background(), s.Addr()), "temporal: connection refused")

	s.SetRunning(false)
	require.Equal(t, http.StatusServiceUnavailable, get(t, base+"/healthz"))
	require.Equal(t, http.StatusMethodNotAllowed, func() int {
		resp, err := http.Post(base+"/healthz", "text/plain", nil)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}())
}

func TestProbeURL(t *testing.T) {
	for addr, want := range map[string]string{
		":8081":          "http://127.0.0.1:8081/readyz",
		"0.0.0.0:8081":   "http://127.0.0.1:8081/readyz",
		"[::]:8081":      "http://127.0.0.1:8081/readyz",
		"10.1.2.3:9000":  "http://10.1.2.3:9000/readyz",
		"localhost:8081": "http://localhost:8081/readyz",
	} {
		got, err := ProbeURL(addr)
		require.NoError(t, err, addr)
		require.Equal(t, want, got, addr)
	}
	_, err := ProbeURL("")
	require.ErrorContains(t, err, "set $IDP_HEALTH_ADDR")
	_, err = ProbeURL("8081")
	require.ErrorContains(t, err, "want host:port or :port")
}

func TestProbeOfNothingListeningFails(t *testing.T) {
	s, err := Listen("127.0.0.1:0", func(context.Context) error { return nil })
	require.NoError(t, err)
	addr := s.Addr()
	require.NoError(t, s.Close())
	require.ErrorContains(t, Probe(context.Background(), addr), "probing http://"+addr+"/readyz")
}

func TestListenOnABusyPortNamesTheSetting(t *testing.T) {
	s, err := Listen("127.0.0.1:0", func(context.Context) error { return nil })
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	_, err = Listen(s.Addr(), func(context.Context) error { return nil })
	require.ErrorContains(t, err, "$IDP_HEALTH_ADDR or --health-addr")
}
