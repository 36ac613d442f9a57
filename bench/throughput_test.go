//go:build bench

package bench

import (
	"context"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"

	"github.com/alexpermiakov/idp/cmd/sandbox/stack"
	"github.com/alexpermiakov/idp/internal/manifest"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

// throughput: waves of N concurrent promotions of N different services into dev, on one
// worker, then the same on two.
func throughput(t *testing.T, r *rig, m mode, res *results) {
	if _, err := r.C.DescribeWorkflow(context.Background(), api.BootstrapID("dev"), ""); err != nil {
		start := time.Now()
		r.must("bootstrap", "--env", "dev", "--wait", "--as", "alice")
		t.Logf("dev bootstrapped with %d services in %s", len(r.Cfg.Tooling.Repositories), time.Since(start).Round(time.Second))
	}
	for workers := 1; workers <= m.Workers; workers++ {
		for len(r.workers) < workers {
			r.startWorker()
		}
		for _, n := range m.ThroughputN {
			tp := wave(t, r, n)
			res.Throughput = append(res.Throughput, tp)
			t.Logf("%d promotions on %d worker(s): %.1f s, %.0f/min, peak RSS %.0f MB, CPU %.1f s, lost %d, failed %d, overhead p50 %.2f s p99 %.2f s, handover p50 %.2f s p99 %.2f s",
				n, workers, tp.Wall, tp.PromotionsPerMinute, tp.WorkerPeakRSSMB, tp.WorkerCPUSeconds, tp.LostUpdates, tp.Failed, tp.OverheadP50, tp.OverheadP99, tp.HandoverP50, tp.HandoverP99)
			t.Logf("  Argo CD in dev: %+v; steps: %+v", tp.ArgoWork, tp.Steps)
			if t.Failed() {
				return
			}
		}
	}
}

// wave promotes n generated services into dev at once and measures it.
func wave(t *testing.T, r *rig, n int) waveResult {
	services, tags := stack.GeneratedServices(n), make([]string, n)
	for i, svc := range services {
		tags[i] = newTag()
		r.push(svc, tags[i])
	}
	cpu0 := 0.0
	for _, w := range r.workers {
		resetPeak(t, w.pid())
		cpu0 += readProc(t, w.pid()).CPUSeconds
	}
	cpuBefore, kubeBefore := r.cpuByProcess(), r.kubeRequests()
	seen := r.apps("dev").watch(t)
	start := time.Now()
	r.promoteAll(services, tags, "dev")
	tp := waveResult{N: n, Workers: len(r.workers), Cores: runtime.NumCPU()}
	ids := make([]string, n)
	for i := range services {
		ids[i] = api.PromoteID(services[i], tags[i])
	}
	type ended struct {
		st           api.Status
		start, close time.Time
	}
	runs := make([]ended, n)
	for i, id := range ids {
		runs[i].st, runs[i].start, runs[i].close = r.result(id)
	}
	wall := time.Since(start)
	seen.stop()
	tp.ArgoWork = seen.work("dev-apps")
	tp.CPUByProcess = cpuSince(cpuBefore, r.cpuByProcess())
	tp.KubeRequests = kubeSince(kubeBefore, r.kubeRequests())
	tp.Wall = round(wall.Seconds())
	tp.PromotionsPerMinute = round(float64(n) / wall.Minutes())
	for _, w := range r.workers {
		ps := readProc(t, w.pid())
		tp.WorkerPeakRSSMB = max(tp.WorkerPeakRSSMB, round(ps.PeakRSSMB))
		tp.WorkerCPUSeconds += ps.CPUSeconds
	}
	tp.WorkerCPUSeconds = round(tp.WorkerCPUSeconds - cpu0)
	all, err := r.apps("dev").all()
	require.NoError(t, err)
	var overheads, handovers []float64
	steps := make([][]float64, len(waveSteps))
	byKind := map[string][]float64{} // activity type → its seconds in each run
	var parts []map[string]float64   // each run's handover by what it was doing
	var histories [][]*historypb.HistoryEvent
	for i, run := range runs {
		st := run.st
		if st.Stage != api.StageDone || len(st.Environments) != 1 || st.Environments[0].State != api.EnvDone {
			tp.Failed++
			t.Logf("%s ended %s: %s", ids[i], st.Stage, st.Error)
			continue
		}
		if r.pinned("dev", services[i]) != st.Environments[0].Image {
			tp.LostUpdates++
		}
		name := policy.AppName(services[i], "dev")
		argo := argoSync(st.Environments[0].Commit, all[name])
		events := r.events(ids[i])
		histories = append(histories, events)
		_, waitStart, waited := r.waits(ids[i], events)
		handover := waitStart.Sub(run.start)
		m := seen.reached(name, st.Environments[0].Image, waitStart)
		if d, ok := m.syncTime(); ok {
			argo = d // to the millisecond
		}
		overheads = append(overheads, (run.close.Sub(run.start) - argo).Seconds())
		handovers = append(handovers, handover.Seconds())
		parts = append(parts, splitHandover(events))
		for kind, secs := range profileOf(events) {
			byKind[kind] = append(byKind[kind], secs)
		}
		if ds, ok := waveMarks(run.start, waitStart, m, waited, run.close); ok {
			for j, d := range ds {
				steps[j] = append(steps[j], d.Seconds())
			}
		}
	}
	for j, v := range steps {
		if len(v) > 0 {
			tp.Steps = append(tp.Steps, stepStat{Step: waveSteps[j], Runs: len(v), P50: round(quantile(v, 0.5)), P99: round(quantile(v, 0.99))})
		}
	}
	tp.OverheadP50, tp.OverheadP99 = round(quantile(overheads, 0.5)), round(quantile(overheads, 0.99))
	tp.HandoverP50, tp.HandoverP99 = round(quantile(handovers, 0.5)), round(quantile(handovers, 0.99))
	for _, kind := range sortedKeys(byKind) {
		v := byKind[kind]
		tp.Profile = append(tp.Profile, stepStat{Step: kind, Runs: len(v), P50: round(quantile(v, 0.5)), P99: round(quantile(v, 0.99))})
	}
	tp.Handover = partStats(parts)
	tp.TasksByWorker = tasksByWorker(histories)
	require.Zero(t, tp.Failed, "every promotion of the wave ends done")
	return tp
}

// promoteAll starts the promotions into env at once, through the CLI in this process, 25 at
// a time.
func (r *rig) promoteAll(services, tags []string, env string) {
	r.t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 25)
	codes, outs := make([]int, len(services)), make([]string, len(services))
	for i := range services {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			codes[i], outs[i] = starter("promote", "--service", services[i], "--tag", tags[i], "--to", env, "--as", "alice", "--no-sign")
		}()
	}
	wg.Wait()
	for i := range services {
		require.Equal(r.t, 0, codes[i], "%s %s: %s", services[i], tags[i], outs[i])
	}
}

// pinned is the image service's manifest in env pins at main's tip.
func (r *rig) pinned(env, service string) string {
	r.t.Helper()
	bare := strings.TrimPrefix(r.Cfg.Repository.URL, "file://")
	out, err := exec.Command("git", "--git-dir", bare, "show", "main:"+policy.ManifestPath(env, service)).Output()
	require.NoError(r.t, err)
	img, err := manifest.Image(out)
	require.NoError(r.t, err)
	return img
}

// parkedConfig is the sandbox's idp.yaml with dev asking for an approval: every promotion of
// a sha tag then parks at dev's gate.
func parkedConfig(t *testing.T) func(string) string {
	return func(y string) string {
		const soak = "      soak: 5s\n"
		require.Contains(t, y, soak, "the sandbox's idp.yaml changed: the bench's edit no longer applies")
		return strings.Replace(y, soak, soak+"      approval: {required: true, fourEyes: true, minApprovals: 1, approvers: [alice, bob, carol], requireSignatures: true, expiry: 2h}\n", 1)
	}
}

// restParked is how long after the last promotion parked the worker's RSS is read: Go
// collects at least every 2 minutes, and its scavenger then returns what the collection freed.
const restParked = 150 * time.Second

// parked: Parked promotions of as many services wait for approval in dev at once; recorded:
// the worker's RSS and the Temporal dev server's CPU while they wait.
func parked(t *testing.T, r *rig, m mode, res *results) {
	r.useConfig(parkedConfig(t))
	w := r.workers[0]
	time.Sleep(5 * time.Second)
	res.Parked.WorkerRSSIdleMB = round(readProc(t, w.pid()).RSSMB)
	services, tags := stack.GeneratedServices(m.Parked), make([]string, m.Parked)
	for i, svc := range services {
		tags[i] = newTag()
		r.push(svc, tags[i])
	}
	start := time.Now()
	r.promoteAll(services, tags, "dev")
	for i := range services {
		st := r.await(api.PromoteID(services[i], tags[i]), 20*time.Minute, 500*time.Millisecond, func(st api.Status) bool {
			return st.Stage == api.StageWaitingApproval || st.Stage == api.StageFailed
		})
		require.Equal(t, api.StageWaitingApproval, st.Stage, st.Error)
		res.Parked.N++
	}
	t.Logf("%d promotions waiting for approval after %s", res.Parked.N, time.Since(start).Round(time.Second))
	parkedAt := time.Now()
	time.Sleep(10 * time.Second)
	res.Parked.WorkerRSSBurstMB = round(readProc(t, w.pid()).RSSMB)
	window, rest := time.Minute, restParked
	if m.Small {
		window, rest = 10*time.Second, 20*time.Second
	}
	temporal := r.procPID("temporal")
	cpu0 := readProc(t, temporal).CPUSeconds
	time.Sleep(window)
	res.Parked.TemporalCPUPercent = round(100 * (readProc(t, temporal).CPUSeconds - cpu0) / window.Seconds())
	time.Sleep(time.Until(parkedAt.Add(rest)))
	ps := readProc(t, w.pid())
	res.Parked.WorkerRSSMB, res.Parked.WorkerPeakRSSMB = round(ps.RSSMB), round(ps.PeakRSSMB)
	t.Logf("parked %d: worker RSS at rest %.0f MB (idle %.0f MB, 10 s after the last parked %.0f MB, peak %.0f MB), Temporal dev server %.1f%% of a core",
		res.Parked.N, res.Parked.WorkerRSSMB, res.Parked.WorkerRSSIdleMB, res.Parked.WorkerRSSBurstMB, res.Parked.WorkerPeakRSSMB, res.Parked.TemporalCPUPercent)
}

// partStats sums up the runs' handover parts: mean, p50 and p99 of each over all the runs.
func partStats(runs []map[string]float64) []stepStat {
	names := map[string]bool{}
	for _, p := range runs {
		for name := range p {
			names[name] = true
		}
	}
	var out []stepStat
	for _, name := range sortedKeys(names) {
		v := make([]float64, len(runs))
		sum := 0.0
		for i, p := range runs {
			v[i] = p[name]
			sum += v[i]
		}
		out = append(out, stepStat{Step: name, Runs: len(runs), P50: round(quantile(v, 0.5)), P99: round(quantile(v, 0.99)), Mean: round(sum / float64(len(runs)))})
	}
	return out
}
