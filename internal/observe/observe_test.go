package observe

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestServeShowsWhatTheHandlerRecords records through the SDK handler, as workflows and
// activities do, and reads it back over HTTP under Prometheus' names.
func TestServeShowsWhatTheHandlerRecords(t *testing.T) {
	m, err := NewMetrics(quiet())
	require.NoError(t, err)
	srv, err := Serve("127.0.0.1:0", m)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close(context.Background())) })

	h := m.Handler.WithTags(map[string]string{"env": "dev"})
	h.Counter("idp_things_total").Inc(2)
	h.Counter("temporal_things").Inc(1) // the SDK's names get _total
	h.Timer("idp_wait_seconds").Record(90 * time.Second)
	h.Timer("temporal_latency").Record(20 * time.Millisecond)
	h.Gauge("temporal_slots").Update(3)

	got, err := Scrape(context.Background(), "http://"+srv.Addr+MetricsPath)
	require.NoError(t, err)
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		s := Find(got, name, labels)
		require.Len(t, s, 1, "%s %v in %v", name, labels, names(got))
		return s[0].Value
	}
	dev := map[string]string{"env": "dev"}
	require.Equal(t, 2.0, value("idp_things_total", dev))
	require.Equal(t, 1.0, value("temporal_things_total", dev))
	require.Equal(t, 3.0, value("temporal_slots", dev))
	require.Equal(t, 1.0, value("idp_wait_seconds_count", dev))
	require.Equal(t, 90.0, value("idp_wait_seconds_sum", dev))
	// idp's buckets reach days, the SDK's stay under a minute
	require.Equal(t, 0.0, value("idp_wait_seconds_bucket", map[string]string{"env": "dev", "le": "60"}))
	require.Equal(t, 1.0, value("idp_wait_seconds_bucket", map[string]string{"env": "dev", "le": "120"}))
	require.Equal(t, 1.0, value("temporal_latency_seconds_bucket", map[string]string{"env": "dev", "le": "0.025"}))
	require.Equal(t, 0.0, value("temporal_latency_seconds_bucket", map[string]string{"env": "dev", "le": "0.01"}))
	require.NotEmpty(t, Find(got, "go_goroutines", nil), "the Go runtime's metrics are served too")
	require.Empty(t, Find(got, "target_info", nil))
	for _, s := range Find(got, "idp_things_total", nil) {
		require.NotContains(t, s.Labels, "otel_scope_name")
	}

	resp, err := http.Get("http://" + srv.Addr + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "only /metrics is served")
}

func names(series []Series) []string {
	var out []string
	for _, s := range series {
		if strings.HasPrefix(s.Name, "idp_") || strings.HasPrefix(s.Name, "temporal_") {
			out = append(out, s.Name)
		}
	}
	return out
}

func TestServeReportsAnAddressInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	m, err := NewMetrics(quiet())
	require.NoError(t, err)
	_, err = Serve(l.Addr().String(), m)
	require.ErrorContains(t, err, "address already in use")
}

func TestNewLogger(t *testing.T) {
	var b bytes.Buffer
	l, err := NewLogger(&b, "", "")
	require.NoError(t, err)
	l.Info("hello", "WorkflowID", "promote-x")
	l.Debug("not at info")
	var line map[string]any
	require.NoError(t, json.Unmarshal(b.Bytes(), &line), "JSON when not a terminal: %s", b.String())
	require.Equal(t, "hello", line["msg"])
	require.Equal(t, "promote-x", line["WorkflowID"])

	b.Reset()
	l, err = NewLogger(&b, "text", "debug")
	require.NoError(t, err)
	l.Debug("shown")
	require.Contains(t, b.String(), "level=DEBUG msg=shown")

	_, err = NewLogger(&b, "xml", "")
	require.EqualError(t, err, `log format "xml": want json or text`)
	_, err = NewLogger(&b, "json", "loud")
	require.EqualError(t, err, `log level "loud": want debug, info, warn or error`)
}
