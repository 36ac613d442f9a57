//go:build bench

// Package bench is idp's benchmark harness (issue 13): it starts the local stack, runs the
// scenarios (lead time against Argo CD's own reconciliation, a full promotion, throughput,
// history size, bootstrap, parked promotions) and writes bench/results.json and
// docs/BENCHMARKS.md. `make bench` runs it in full; `make test` runs it once at small N
// (IDP_BENCH_SMALL=1) to prove it works, writing to a temporary directory.
package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// mode is how much the harness runs.
type mode struct {
	Small bool
	// Runs is how many times each short scenario runs (min/median/max over them).
	Runs int
	// GitopsRuns and GitopsReconcile: how often the GitOps-default change is timed, at which
	// Argo CD reconciliation period (its default, 180 s, in a full run).
	GitopsRuns      int
	GitopsReconcile time.Duration
	// ThroughputN are the sizes of the concurrent promotion waves, on one worker then two.
	ThroughputN []int
	// Workers is how many workers the waves run on in the end (one, then two, ...).
	Workers int
	// Problems are the environment variables that could not be read, each with its fix.
	Problems []string
	// Parked is how many promotions wait for approval at once.
	Parked int
	// HealthWaits are the two health wait lengths whose histories must be the same size.
	HealthWaits [2]time.Duration
}

func modeFromEnv() mode {
	if os.Getenv("IDP_BENCH_SMALL") == "1" {
		return mode{Small: true, Runs: 1, Workers: 2, GitopsRuns: 1, GitopsReconcile: 10 * time.Second, ThroughputN: []int{2},
			Parked: 5, HealthWaits: [2]time.Duration{2 * time.Second, 12 * time.Second}}
	}
	m := mode{Runs: 5, Workers: 2, GitopsRuns: 2, GitopsReconcile: 180 * time.Second, ThroughputN: []int{10, 50, 100},
		Parked: 500, HealthWaits: [2]time.Duration{10 * time.Second, 120 * time.Second}}
	if n, err := strconv.Atoi(os.Getenv("IDP_BENCH_GITOPS_RUNS")); err == nil && n > 0 {
		m.GitopsRuns = n // each takes up to two reconciliation periods
	}
	if sizes := os.Getenv("IDP_BENCH_N"); sizes != "" {
		m.ThroughputN = nil // a look at one wave size, e.g. 100, without the others' 10 minutes
		for _, f := range strings.Split(sizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				m.Problems = append(m.Problems, fmt.Sprintf("IDP_BENCH_N=%q: %q is not a wave size (whole numbers above 0, comma-separated, e.g. 10,100)", sizes, f))
				continue
			}
			m.ThroughputN = append(m.ThroughputN, n)
		}
	}
	if w := os.Getenv("IDP_BENCH_WORKERS"); w != "" {
		n, err := strconv.Atoi(w)
		if err != nil || n <= 0 {
			m.Problems = append(m.Problems, fmt.Sprintf("IDP_BENCH_WORKERS=%q: not a number of workers (1 or more, e.g. 1)", w))
		} else {
			m.Workers = n
		}
	}
	return m
}

// TestBench runs every scenario and writes the results, also when one fails (what it
// measured so far).
func TestBench(t *testing.T) {
	m := modeFromEnv()
	require.Empty(t, m.Problems, "the bench's environment variables")
	res := &results{Mode: "full", Samples: map[string][]float64{}}
	if m.Small {
		res.Mode = "small (IDP_BENCH_SMALL=1: numbers prove the harness, not the product)"
	}
	res.Machine = machine(t)
	out, doc := outputs(t, m)
	if only := os.Getenv("IDP_BENCH_ONLY"); only != "" && !m.Small {
		res = merged(t, out, m)
		res.Mode = "full; stacks run one at a time ($IDP_BENCH_ONLY), this file merged from those runs"
	}
	defer func() {
		res.finish()
		b, err := json.MarshalIndent(res, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(out, append(b, '\n'), 0o644))
		require.NoError(t, os.WriteFile(doc, []byte(res.markdown(m)), 0o644))
		t.Logf("results: %s, %s", out, doc)
	}()
	res.ManifestEditSeconds = manifestEditBench(t)
	if m.Small {
		t.Run("stack", func(t *testing.T) {
			r := up(t, max(slices.Max(m.ThroughputN), m.Parked))
			quietStack(t, r, m, res)
			if !t.Failed() {
				throughput(t, r, m, res)
			}
			if !t.Failed() {
				parked(t, r, m, res)
			}
		})
		return
	}
	if m.runs("quiet") {
		t.Run("quiet stack", func(t *testing.T) { quietStack(t, up(t, 0), m, res) })
	}
	if m.runs("throughput") {
		t.Run("throughput", func(t *testing.T) {
			r := up(t, slices.Max(m.ThroughputN))
			throughput(t, r, m, res)
		})
	}
	if m.runs("parked") {
		t.Run("parked", func(t *testing.T) { parked(t, up(t, m.Parked), m, res) })
	}
}

// runs says whether a full run takes this stack's scenarios: all, or those $IDP_BENCH_ONLY
// names (quiet, throughput, parked; comma-separated).
func (m mode) runs(stack string) bool {
	only := os.Getenv("IDP_BENCH_ONLY")
	return only == "" || slices.Contains(strings.Split(only, ","), stack)
}

// quietStack runs the scenarios that want a stack doing nothing else: bootstrap, lead time,
// the GitOps default, then (staging and prod bootstrapped) the full promotion and history.
func quietStack(t *testing.T, r *rig, m mode, res *results) {
	steps := []func(*testing.T, *rig, mode, *results){bootstrapDev, leadTime, gitopsDefault, bootstrapRest, fullPromotion, healthWaits}
	for _, step := range steps {
		step(t, r, m, res)
		if t.Failed() {
			return
		}
	}
}

// merged is the results file at path with the parts this run measures again cleared: a full
// run taken one stack at a time ($IDP_BENCH_ONLY) adds up in one file.
func merged(t *testing.T, path string, m mode) *results {
	res := &results{Samples: map[string][]float64{}}
	if b, err := os.ReadFile(path); err == nil {
		require.NoError(t, json.Unmarshal(b, res), path)
	}
	if res.Samples == nil {
		res.Samples = map[string][]float64{}
	}
	if m.runs("quiet") {
		throughput, parked := res.Throughput, res.Parked
		*res = results{Samples: map[string][]float64{}, Throughput: throughput, Parked: parked}
	}
	if m.runs("throughput") {
		res.Throughput = nil
	}
	if m.runs("parked") {
		res.Parked = results{}.Parked
	}
	res.Machine = machine(t)
	return res
}

// outputs are where the results go: bench/results.json and docs/BENCHMARKS.md, or a temporary
// directory in small mode ($IDP_BENCH_OUT overrides the directory of both).
func outputs(t *testing.T, m mode) (string, string) {
	dir := os.Getenv("IDP_BENCH_OUT")
	if dir == "" && m.Small {
		var err error
		dir, err = os.MkdirTemp("", "idp-bench-")
		require.NoError(t, err)
	}
	if dir == "" {
		return "results.json", filepath.Join("..", "docs", "BENCHMARKS.md")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return filepath.Join(dir, "results.json"), filepath.Join(dir, "BENCHMARKS.md")
}
