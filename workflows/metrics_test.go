package workflows

import (
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/metrics"
	"github.com/alexpermiakov/idp/internal/observe"
)

// newMetrics is a registry for a test suite's metrics handler, as the worker has.
func newMetrics(t *testing.T) *observe.Metrics {
	t.Helper()
	m, err := observe.NewMetrics(slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	return m
}

// counted lists the series called name as "label=value,... N" lines showing the labels
// named, sorted: what a person reading the metric would see.
func counted(t *testing.T, m *observe.Metrics, name string, labels ...string) []string {
	t.Helper()
	all, err := m.Read()
	require.NoError(t, err)
	var out []string
	for _, s := range observe.Find(all, name, nil) {
		var parts []string
		for _, l := range labels {
			parts = append(parts, l+"="+s.Labels[l])
		}
		out = append(out, strings.Join(parts, ",")+" "+strconv.FormatFloat(s.Value, 'g', -1, 64))
	}
	sort.Strings(out)
	return out
}

// seconds is the one series called name with labels: its sum in seconds.
func seconds(t *testing.T, m *observe.Metrics, name string, labels map[string]string) time.Duration {
	t.Helper()
	all, err := m.Read()
	require.NoError(t, err)
	s := observe.Find(all, name+"_sum", labels)
	require.Len(t, s, 1, "%s %v", name, labels)
	return time.Duration(s[0].Value * float64(time.Second))
}

func (s *promoteSuite) outcomes() []string {
	return counted(s.T(), s.metrics, metrics.Promotions, "env", "service", "outcome")
}
