package observe

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Series is one line of a scrape: a name as Prometheus shows it (a histogram's as name_count,
// name_sum and name_bucket with le), its labels and its value.
type Series struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Scrape reads the metrics url serves, as Prometheus would.
func Scrape(ctx context.Context, url string) ([]Series, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping %s: %s", url, resp.Status)
	}
	return Parse(resp.Body)
}

// Parse reads metrics in Prometheus' text format.
func Parse(r io.Reader) ([]Series, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parsing metrics: %w", err)
	}
	var out []Series
	for name, f := range families {
		for _, m := range f.GetMetric() {
			out = append(out, flatten(name, m)...)
		}
	}
	return out, nil
}

func flatten(name string, m *dto.Metric) []Series {
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	one := func(suffix string, v float64, extra ...string) Series {
		ls := maps.Clone(labels)
		for i := 0; i+1 < len(extra); i += 2 {
			ls[extra[i]] = extra[i+1]
		}
		return Series{Name: name + suffix, Labels: ls, Value: v}
	}
	switch {
	case m.Counter != nil:
		return []Series{one("", m.Counter.GetValue())}
	case m.Gauge != nil:
		return []Series{one("", m.Gauge.GetValue())}
	case m.Untyped != nil:
		return []Series{one("", m.Untyped.GetValue())}
	case m.Histogram != nil:
		h := m.Histogram
		out := []Series{one("_count", float64(h.GetSampleCount())), one("_sum", h.GetSampleSum())}
		for _, b := range h.GetBucket() {
			out = append(out, one("_bucket", float64(b.GetCumulativeCount()), "le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)))
		}
		return out
	case m.Summary != nil:
		return []Series{one("_count", float64(m.Summary.GetSampleCount())), one("_sum", m.Summary.GetSampleSum())}
	}
	return nil
}

// Find returns the series called name whose labels include every label of want.
func Find(series []Series, name string, want map[string]string) []Series {
	var out []Series
	for _, s := range series {
		if s.Name != name {
			continue
		}
		match := true
		for k, v := range want {
			if s.Labels[k] != v {
				match = false
				break
			}
		}
		if match {
			out = append(out, s)
		}
	}
	return out
}
