//go:build bench

package bench

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// results is bench/results.json: seconds and MB. Samples keeps every run of the short
// scenarios, by name, for min/median/max.
type results struct {
	Mode     string `json:"mode"`
	LeadTime struct {
		IDP            float64 `json:"idp"`
		IDPOverhead    float64 `json:"idpOverhead"`
		IDPOverheadP99 float64 `json:"idpOverheadP99"`
		// IDPHandover is run start → the first health wait started (idp's own work before
		// Argo CD is asked to act), from the history, to the millisecond.
		IDPHandover   float64 `json:"idpHandover"`
		PushToHealthy float64 `json:"pushToHealthy"`
		GitopsDefault float64 `json:"gitopsDefault"`
		Ratio         float64 `json:"ratio"`
		// GitopsReconcile is the Argo CD reconciliation period the GitOps default ran at.
		GitopsReconcile float64 `json:"gitopsReconcile"`
	} `json:"leadTime"`
	FullPromotion float64      `json:"fullPromotion"`
	Throughput    []waveResult `json:"throughput"`
	HistoryEvents struct {
		Bootstrap     int `json:"bootstrap"`
		Promotion3env int `json:"promotion3env"`
		// HealthWait maps a health wait's length (seconds) to its promotion's event count.
		HealthWait map[string]int `json:"healthWait"`
		// Promotion3envByType and HealthWaitByType count the events by type (where they go).
		Promotion3envByType map[string]int            `json:"promotion3envByType,omitempty"`
		HealthWaitByType    map[string]map[string]int `json:"healthWaitByType,omitempty"`
	} `json:"historyEvents"`
	Bootstrap struct {
		Cold     float64 `json:"cold"`
		NoChange float64 `json:"noChange"`
	} `json:"bootstrap"`
	Parked struct {
		N int `json:"n"`
		// WorkerRSSMB is the worker's RSS with the promotions parked, at rest: restParked
		// after the last one parked, when Go's periodic collection (every 2 minutes at most)
		// has run and its scavenger has returned the freed heap.
		WorkerRSSMB float64 `json:"workerRssMB"`
		// WorkerRSSBurstMB is the same 10 s after the last one parked (the heap the burst of
		// 500 starts left, not yet collected) and WorkerPeakRSSMB the highest it was.
		WorkerRSSBurstMB float64 `json:"workerRssBurstMB,omitempty"`
		WorkerPeakRSSMB  float64 `json:"workerPeakRssMB,omitempty"`
		// WorkerRSSIdleMB is the worker's RSS before the promotions started.
		WorkerRSSIdleMB float64 `json:"workerRssIdleMB"`
		// TemporalCPUPercent is the dev server's CPU use (% of one core) over a minute parked.
		TemporalCPUPercent float64 `json:"temporalCpuPercent"`
	} `json:"parked"`
	// ManifestEditSeconds is BenchmarkManifestEditOn5000Commits's time per commit.
	ManifestEditSeconds float64              `json:"manifestEditSeconds"`
	Machine             string               `json:"machine"`
	Samples             map[string][]float64 `json:"samples"`
	// LeadTimeProfile is where the last lead-time run's time went, by activity type (seconds
	// from scheduled to completed, summed), from its history.
	LeadTimeProfile map[string]float64 `json:"leadTimeProfile,omitempty"`
	// NoChangeProfile is the same for the last no-change bootstrap.
	NoChangeProfile map[string]float64 `json:"noChangeProfile,omitempty"`
}

// waveResult is one wave of concurrent promotions into dev.
type waveResult struct {
	N                   int     `json:"n"`
	Workers             int     `json:"workers"`
	Wall                float64 `json:"wall"`
	PromotionsPerMinute float64 `json:"promotionsPerMinute"`
	WorkerPeakRSSMB     float64 `json:"workerPeakRssMB"`
	WorkerCPUSeconds    float64 `json:"workerCpuSeconds"`
	LostUpdates         int     `json:"lostUpdates"`
	Failed              int     `json:"failed"`
	// OverheadP50 and OverheadP99: each promotion's run time minus Argo CD's sync time.
	OverheadP50 float64 `json:"overheadP50"`
	OverheadP99 float64 `json:"overheadP99"`
	// HandoverP50 and HandoverP99: each promotion's start to its health wait starting, idp's
	// own part (plan, reads, lock, door, the Git write among the wave's other writes).
	HandoverP50 float64 `json:"handoverP50,omitempty"`
	HandoverP99 float64 `json:"handoverP99,omitempty"`
	// CPUByProcess is the CPU seconds each of the stack's processes used during the wave
	// (children included; env-specific processes summed by kind): where a wave's time goes on
	// a machine whose cores it saturates.
	CPUByProcess map[string]float64 `json:"cpuByProcess,omitempty"`
	// KubeRequests is what dev's kube-apiserver spent the wave on, by verb and resource (the
	// ten that took the most time; seconds are summed request latencies, not CPU).
	KubeRequests []kubeRequest `json:"kubeRequests,omitempty"`
	// Steps are where each promotion's time went, step by step (waveSteps), p50 and p99
	// over the promotions a watch of dev's Applications saw through every step.
	Steps []stepStat `json:"steps,omitempty"`
	// Profile is where the wave's runs spent their time by activity type, from their
	// histories (scheduled → completed, queueing included, summed per run): p50 and p99 over
	// the runs that ran that type.
	Profile []stepStat `json:"profile,omitempty"`
	// Handover is each run's handover split by what it was doing (handoverParts): mean, p50
	// and p99 over the wave's runs (a run without a part counts 0 there); the means add up to
	// the mean handover.
	Handover []stepStat `json:"handover,omitempty"`
	// TasksByWorker is how many of the runs' workflow and activity tasks each worker took,
	// the most first.
	TasksByWorker []int `json:"tasksByWorker,omitempty"`
	// ArgoWork is what Argo CD was asked to do and did in dev during the wave.
	ArgoWork argoWork `json:"argoWork"`
	// Cores is how many the machine had (CPUByProcess against what they could give).
	Cores int `json:"cores,omitempty"`
}

// stepStat is one step of a wave's promotions, in seconds.
type stepStat struct {
	Step string  `json:"step"`
	Runs int     `json:"runs"`
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	Mean float64 `json:"mean,omitempty"`
}

// add records one sample of a short scenario.
func (r *results) add(name string, d time.Duration) {
	r.Samples[name] = append(r.Samples[name], round(d.Seconds()))
}

// finish fills the headline numbers from the samples.
func (r *results) finish() {
	r.LeadTime.IDP = median(r.Samples["leadTime.idp"])
	r.LeadTime.IDPOverhead = median(r.Samples["leadTime.idpOverhead"])
	r.LeadTime.IDPHandover = median(r.Samples["leadTime.idpHandover"])
	r.LeadTime.PushToHealthy = median(r.Samples["leadTime.pushToHealthy"])
	r.LeadTime.GitopsDefault = median(r.Samples["leadTime.gitopsDefault"])
	if r.LeadTime.PushToHealthy > 0 {
		r.LeadTime.Ratio = round(r.LeadTime.GitopsDefault / r.LeadTime.PushToHealthy)
	}
	r.FullPromotion = median(r.Samples["fullPromotion"])
	r.Bootstrap.Cold = median(r.Samples["bootstrap.cold"])
	r.Bootstrap.NoChange = median(r.Samples["bootstrap.noChange"])
	for _, tp := range r.Throughput {
		if tp.Workers == 1 && tp.OverheadP99 > 0 {
			r.LeadTime.IDPOverheadP99 = tp.OverheadP99 // the largest one-worker wave's
		}
	}
}

func round(v float64) float64 { return math.Round(v*1000) / 1000 }

func median(v []float64) float64 { return quantile(v, 0.5) }

// quantile is the nearest-rank quantile q of v (0 for none).
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// machine describes the host from /proc/cpuinfo and /proc/meminfo.
func machine(t *testing.T) string {
	cpu, _ := os.ReadFile("/proc/cpuinfo")
	model, cores := "unknown CPU", 0
	for _, line := range strings.Split(string(cpu), "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch strings.TrimSpace(k) {
		case "model name":
			model = strings.TrimSpace(v)
		case "processor":
			cores++
		}
	}
	mem, _ := os.ReadFile("/proc/meminfo")
	memGB := 0.0
	if m := regexp.MustCompile(`MemTotal:\s+(\d+) kB`).FindSubmatch(mem); m != nil {
		kb, _ := strconv.ParseFloat(string(m[1]), 64)
		memGB = kb / 1024 / 1024
	}
	load, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("%s, %d logical CPUs, %.1f GB RAM, %s/%s, %s; load average at start %s", model, cores, memGB,
		runtime.GOOS, runtime.GOARCH, runtime.Version(), strings.Join(strings.Fields(string(load))[:3], " "))
}

// manifestEditBench runs BenchmarkManifestEditOn5000Commits and returns its seconds per
// commit.
func manifestEditBench(t *testing.T) float64 {
	t.Helper()
	n := "20x"
	if modeFromEnv().Small {
		n = "3x"
	}
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "BenchmarkManifestEditOn5000Commits", "-benchtime", n, "./activities/git/gitremote/")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("BenchmarkManifestEditOn5000Commits: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`BenchmarkManifestEditOn5000Commits\S*\s+\d+\s+(\d+) ns/op`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("BenchmarkManifestEditOn5000Commits printed no ns/op:\n%s", out)
	}
	ns, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("manifest edit and commit on 5,000 commits / 500 manifests: %.3f s", ns/1e9)
	return round(ns / 1e9)
}
