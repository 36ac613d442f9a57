//go:build bench

package bench

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// target is one of issue 13's targets: the number it checks, and whether the number meets it.
type target struct {
	what, goal string
	value      float64
	unit       string
	met        bool
	measured   bool
}

func (r *results) targets() []target {
	at100 := func(workers int) (waveResult, bool) {
		for _, tp := range r.Throughput {
			if tp.N == 100 && tp.Workers == workers {
				return tp, true
			}
		}
		return waveResult{}, false
	}
	one, ok1 := at100(1)
	two, ok2 := at100(2)
	hw := r.HistoryEvents.HealthWait
	var waits []int
	for _, k := range sortedKeys(hw) {
		waits = append(waits, hw[k])
	}
	// The same count, give or take one workflow task (its three events): whether a signal
	// (the lock's grant, the door's answer) arrives while a workflow task is in flight, and so
	// rides on the next one with an activity's result, is a matter of timing, not of the wait.
	sameWaits := len(waits) == 2 && waits[0]-waits[1] <= 3 && waits[1]-waits[0] <= 3
	return []target{
		{"idp overhead p50 (lead-time runs; run start → Healthy minus Argo CD's sync operations, to the ms)", "< 0.5 s", r.LeadTime.IDPOverhead, "s", r.LeadTime.IDPOverhead < 0.5, len(r.Samples["leadTime.idpOverhead"]) > 0},
		{"idp's own time before Argo CD is asked, p50 (history, to the ms)", "< 0.5 s", r.LeadTime.IDPHandover, "s", r.LeadTime.IDPHandover < 0.5, len(r.Samples["leadTime.idpHandover"]) > 0},
		{"idp overhead p99 at N = 100, one worker", "< 2 s", r.LeadTime.IDPOverheadP99, "s", r.LeadTime.IDPOverheadP99 < 2, ok1},
		{"image push → dev Healthy p50 (event path)", "< 5 s", r.LeadTime.PushToHealthy, "s", r.LeadTime.PushToHealthy < 5, r.LeadTime.PushToHealthy > 0},
		{"GitOps default ÷ idp (push → Healthy)", "≥ 50×", r.LeadTime.Ratio, "×", r.LeadTime.Ratio >= 50 && r.LeadTime.GitopsReconcile == 180, r.LeadTime.Ratio > 0},
		{"full promotion dev → staging → prod", "< 30 s", r.FullPromotion, "s", r.FullPromotion < 30, r.FullPromotion > 0},
		{"100 promotions, one worker: wall", "< 120 s", one.Wall, "s", one.Wall > 0 && one.Wall < 120 && one.Failed == 0, ok1},
		{"100 promotions, one worker: peak RSS", "< 300 MB", one.WorkerPeakRSSMB, "MB", one.WorkerPeakRSSMB < 300, ok1},
		{"100 promotions, one worker: lost updates and failures", "0", float64(one.LostUpdates + one.Failed), "", one.LostUpdates == 0 && one.Failed == 0, ok1},
		{"100 promotions, two workers: wall", "< one worker's", two.Wall, "s", two.Wall < one.Wall, ok1 && ok2},
		{"history events of a 3-env promotion", "< 150", float64(r.HistoryEvents.Promotion3env), "", r.HistoryEvents.Promotion3env < 150, r.HistoryEvents.Promotion3env > 0},
		{"history events independent of the health wait", "equal (± one workflow task)", float64(len(waits)), " waits", sameWaits, len(waits) == 2},
		{"no-change rebootstrap", "< 10 s", r.Bootstrap.NoChange, "s", r.Bootstrap.NoChange < 10, r.Bootstrap.NoChange > 0},
		{"worker RSS with 500 parked promotions", "< 150 MB", r.Parked.WorkerRSSMB, "MB", r.Parked.WorkerRSSMB < 150, r.Parked.N >= 500},
	}
}

// byCount lists counts, the largest first: "ACTIVITY_TASK_SCHEDULED 40, ...".
func byCount(m map[string]int) string {
	keys := sortedKeys(m)
	sort.SliceStable(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// markdown is docs/BENCHMARKS.md.
func (r *results) markdown(m mode) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Benchmarks")
	w("")
	w("Written by `make bench` (bench/, build tag `bench`) on %s; the same numbers are in", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	w("[bench/results.json](../bench/results.json). Mode: %s.", r.Mode)
	w("")
	w("**Machine**: %s.", r.Machine)
	w("")
	w("## Commands")
	w("")
	w("```")
	w("make bench   # go test -run '^$' -bench . -benchmem ./...   (Go micro benchmarks)")
	w("             # go test -tags bench -count=1 -run TestBench -v -timeout 90m ./bench")
	w("IDP_BENCH_SMALL=1 go test -tags bench -count=1 -run TestBench -v ./bench   # make test's smoke run")
	w("IDP_BENCH_ONLY=quiet|throughput|parked ...   # one stack's scenarios, merged into the existing results")
	w("IDP_BENCH_GITOPS_RUNS=N ...                  # how often the GitOps default is timed (default 2)")
	w("IDP_BENCH_N=100 IDP_BENCH_WORKERS=1 ...      # throughput: only these wave sizes, on up to this many workers")
	w("```")
	w("")
	r.method(w, m)
	w("## Targets (issue 13)")
	w("")
	w("| target | goal | measured | met |")
	w("|---|---|---|---|")
	for _, tg := range r.targets() {
		switch {
		case !tg.measured:
			w("| %s | %s | not measured in this run | — |", tg.what, tg.goal)
		default:
			w("| %s | %s | %g%s | %s |", tg.what, tg.goal, tg.value, tg.unit, map[bool]string{true: "yes", false: "**no**"}[tg.met])
		}
	}
	w("")
	r.tables(w)
	return b.String()
}

func (r *results) method(w func(string, ...any), m mode) {
	w("## Method")
	w("")
	w("The harness starts the local stack (cmd/sandbox/stack: Temporal dev server, one AWS emulator per account,")
	w("one kube-apiserver with kwok and a real Argo CD application-controller and repo-server per env, a local Git")
	w("repository) with the worker as a separate `bin/worker` process, and drives it with the `starter` CLI, as a user")
	w("would. Three stacks in a full run: a quiet one (the two real services) for lead time, the GitOps default,")
	w("bootstrap, the full promotion and history sizes; one with 100 generated services for throughput; one with %d", m.Parked)
	w("generated services for the parked promotions. Short scenarios run %d times: min / median / max below.", m.Runs)
	w("")
	w("- **Lead time (idp)**: `bin/sandbox image push` pushes a new `sha-*` image and delivers its ECR push event to the")
	w("  worker's events endpoint (hands-off delivery); the clock stops when dev's Application is Synced at idp's commit,")
	w("  Healthy, and runs that tag and digest, as a watch of dev's Applications delivers it (the harness records every")
	w("  version the watch brings, with its arrival time). `pushToHealthy` is from the push; `idp` is from the run's")
	w("  start (Temporal's StartTime) to the same moment; `idpOverhead` is `idp` minus the time Argo CD spent in its sync")
	w("  operations of that commit (app-of-apps and app: from the watch's first version with `status.operationState.phase`")
	w("  Running to its first with Succeeded at the commit, to the millisecond; Argo CD's own startedAt→finishedAt is to")
	w("  the second, and is kept as `breakdown.argoSyncRecorded`).")
	w("  `idpHandover` is from the run's start to its first health wait starting (which first asks Argo CD for a refresh),")
	w("  from the history's event times: idp's own work before Argo CD can act (plan, reads, lock, door, Git write).")
	w("- **GitOps default**: the same change the anchors' way: a new image pinned in `argocd/applications/dev/time-service.yaml`,")
	w("  committed and pushed to the platform repository by hand, with")
	w("  the worker stopped and dev's application-controller and repo-server restarted with `ARGOCD_RECONCILIATION_TIMEOUT`")
	w("  at %s (Argo CD's default is 180 s and no jitter; the sandbox runs 60 s); timed from the push until the app", m.GitopsReconcile)
	w("  runs it as above. A developer's commit lands at any moment of the period; the runs commit at evenly spread")
	w("  moments of it (run i of n at (i+½)/n of the period after the last reconciliation), so that their median")
	w("  estimates the mean wait with few runs.")
	w("  `ratio` = GitOps default ÷ idp's push → Healthy (both from the change entering the system).")
	w("- **Full promotion**: `starter promote --to prod` of a `sha-*` tag, the bench's idp.yaml letting it on from dev to")
	w("  staging and soaking 0 s; prod's approval (`starter approve --as bob`) sent as soon as `starter status` shows it")
	w("  asked (polled every 100 ms); timed until the run has closed.")
	w("- **Throughput**: N generated services promoted into dev at once (`--to dev`), the clock from the first start to the")
	w("  last close; worker peak RSS is VmHWM of /proc/PID/status (reset with clear_refs before the wave; the larger of")
	w("  two workers), CPU is utime+stime of /proc/PID/stat (both workers summed). A lost update is a run that ended done")
	w("  whose image main's manifest no longer pins. Overhead per run: run time minus its app's Argo CD sync operation; handover per run:")
	w("  its start to its health wait starting (history event times), idp's own part of the run, the Git write among the wave's included.")
	w("  Tasks per worker: the workflow and activity tasks of the wave's runs each worker took (the identity in their history).")
	w("- **History**: events of `GetWorkflowHistory` for dev's cold bootstrap and the first full promotion; the health-wait")
	w("  pair stops dev's application controller for %s and %s after a promotion starts, so Argo CD answers that late.", m.HealthWaits[0], m.HealthWaits[1])
	w("- **Bootstrap**: `starter bootstrap --env dev --wait` cold, then again with nothing to change.")
	w("- **Parked**: promotions of %d services into dev, with dev asking for an approval (bench idp.yaml), all waiting at", m.Parked)
	w("  the gate; worker VmRSS then, and the Temporal dev server's CPU over a minute of waiting.")
	w("- **Manifest edit**: `BenchmarkManifestEditOn5000Commits` (activities/git/gitremote): one promotion's write (fetch,")
	w("  edit, commit, push) to a main with 5,000 commits and 500 manifests, the provider's clone reused.")
	w("")
}

func (r *results) tables(w func(string, ...any)) {
	w("## Numbers")
	w("")
	w("| scenario | median | min | max | runs |")
	w("|---|---|---|---|---|")
	for _, name := range sortedKeys(r.Samples) {
		v := r.Samples[name]
		w("| %s | %.3f s | %.3f s | %.3f s | %d |", name, median(v), slices.Min(v), slices.Max(v), len(v))
	}
	w("")
	w("| throughput N | workers | wall | promotions/min | worker peak RSS | worker CPU | lost updates | failed | overhead p50 / p99 | handover p50 / p99 | tasks per worker |")
	w("|---|---|---|---|---|---|---|---|---|---|---|")
	for _, tp := range r.Throughput {
		handover, split := "not measured", "not measured"
		if tp.HandoverP50 > 0 {
			handover = fmt.Sprintf("%.2f / %.2f s", tp.HandoverP50, tp.HandoverP99)
		}
		if len(tp.TasksByWorker) > 0 {
			split = strings.Trim(strings.Join(strings.Fields(fmt.Sprint(tp.TasksByWorker)), " / "), "[]")
		}
		w("| %d | %d | %.1f s | %.1f | %.0f MB | %.1f s | %d | %d | %.2f / %.2f s | %s | %s |", tp.N, tp.Workers, tp.Wall, tp.PromotionsPerMinute,
			tp.WorkerPeakRSSMB, tp.WorkerCPUSeconds, tp.LostUpdates, tp.Failed, tp.OverheadP50, tp.OverheadP99, handover, split)
	}
	w("")
	w("History events: dev bootstrap %d, 3-env promotion %d; by health wait: %v.", r.HistoryEvents.Bootstrap, r.HistoryEvents.Promotion3env, r.HistoryEvents.HealthWait)
	w("")
	if by := r.HistoryEvents.Promotion3envByType; len(by) > 0 {
		w("The 3-env promotion's events by type: %s.", byCount(by))
		w("")
	}
	for _, k := range sortedKeys(r.HistoryEvents.HealthWaitByType) {
		w("The promotion with a %s health wait, by type: %s.", k, byCount(r.HistoryEvents.HealthWaitByType[k]))
		w("")
	}
	w("Parked: %d promotions waiting for approval; worker RSS at rest %.0f MB (%.0f MB before they started; %.0f MB 10 s after the last parked,",
		r.Parked.N, r.Parked.WorkerRSSMB, r.Parked.WorkerRSSIdleMB, r.Parked.WorkerRSSBurstMB)
	w("before Go collected what their start left; peak %.0f MB); Temporal dev server %.1f%% of one core while they wait.",
		r.Parked.WorkerPeakRSSMB, r.Parked.TemporalCPUPercent)
	w("")
	w("Manifest edit and commit on 5,000 commits / 500 manifests: %.3f s per commit.", r.ManifestEditSeconds)
	w("")
	w("## Where the time goes")
	w("")
	w("Lead-time runs, medians: push → run start %.3f s (bin/sandbox's ECR push, the event's delivery, the run's start),",
		median(r.Samples["breakdown.pushToRunStart"]))
	w("Argo CD's sync operations %.3f s (Argo CD's record, to the second: %.3f s), Healthy seen → run closed %.3f s; full",
		median(r.Samples["breakdown.argoSync"]), median(r.Samples["breakdown.argoSyncRecorded"]), median(r.Samples["breakdown.healthyToRunEnd"]))
	w("promotion: start → prod's approval asked %.3f s.", median(r.Samples["breakdown.fullToApproval"]))
	w("")
	pathTable(w, r.Samples)
	cpuTable(w, r.Throughput)
	profileTable(w, "The last lead-time run", r.LeadTimeProfile)
	profileTable(w, "The last no-change bootstrap", r.NoChangeProfile)
}

// cpuTable lists the CPU each process used in the largest one-worker wave, the largest first,
// against what the machine's cores could give over its wall time.
func cpuTable(w func(string, ...any), waves []waveResult) {
	var big *waveResult
	for i, tp := range waves {
		if tp.Workers == 1 && len(tp.CPUByProcess) > 0 && (big == nil || tp.N > big.N) {
			big = &waves[i]
		}
	}
	if big == nil {
		return
	}
	total := 0.0
	for _, v := range big.CPUByProcess {
		total += v
	}
	w("The wave of %d promotions on one worker (%.1f s wall; %d cores could give %.0f CPU seconds, the stack used %.0f), CPU",
		big.N, big.Wall, big.Cores, big.Wall*float64(big.Cores), total)
	w("seconds by process (children it ran included, every env's summed):")
	w("")
	w("| process | CPU seconds | share |")
	w("|---|---|---|")
	keys := sortedKeys(big.CPUByProcess)
	sort.SliceStable(keys, func(i, j int) bool { return big.CPUByProcess[keys[i]] > big.CPUByProcess[keys[j]] })
	for _, k := range keys {
		w("| %s | %.1f | %.0f%% |", k, big.CPUByProcess[k], 100*big.CPUByProcess[k]/total)
	}
	w("")
	if len(big.KubeRequests) > 0 {
		w("Dev's kube-apiserver during that wave, the requests that took the most time (latencies summed):")
		w("")
		w("| request | count | seconds |")
		w("|---|---|---|")
		for _, k := range big.KubeRequests {
			w("| %s %s | %d | %.1f |", k.Verb, k.Resource, k.Count, k.Seconds)
		}
		w("")
	}
	stepTable(w, waves)
}

// stepTable lists where each wave's promotions spent their time, step by step.
func stepTable(w func(string, ...any), waves []waveResult) {
	var with []waveResult
	for _, tp := range waves {
		if len(tp.Steps) > 0 {
			with = append(with, tp)
		}
	}
	if len(with) == 0 {
		return
	}
	w("Each wave's promotions step by step, p50 / p99 in seconds (history event times and a watch of dev's Applications, to")
	w("the millisecond; over the promotions the watch saw through every step):")
	w("")
	head, rule := "| step |", "|---|"
	for _, tp := range with {
		head += fmt.Sprintf(" N = %d, %d worker(s) (%d seen) |", tp.N, tp.Workers, tp.Steps[0].Runs)
		rule += "---|"
	}
	w("%s", head)
	w("%s", rule)
	for _, step := range waveSteps {
		row := "| " + step + " |"
		for _, tp := range with {
			cell := " — |"
			for _, st := range tp.Steps {
				if st.Step == step {
					cell = fmt.Sprintf(" %.2f / %.2f |", st.P50, st.P99)
				}
			}
			row += cell
		}
		w("%s", row)
	}
	w("")
	big := with[0]
	for _, tp := range with {
		if tp.Workers == 1 && tp.N > big.N {
			big = tp
		}
	}
	if len(big.Profile) > 0 {
		w("The wave of %d promotions on %d worker(s), by activity type: seconds from scheduled to completed (queueing on", big.N, big.Workers)
		w("the task queue included), summed per run, p50 / p99 over the runs (\"run\" is each run's first to last event):")
		w("")
		w("| activity | runs | p50 | p99 |")
		w("|---|---|---|---|")
		for _, st := range big.Profile {
			w("| %s | %d | %.3f | %.3f |", st.Step, st.Runs, st.P50, st.P99)
		}
		w("")
	}
	if len(big.Handover) > 0 {
		w("The same wave's handover (run start → its health wait starts), split by what each run was doing, from its history:")
		w("a workflow task waiting for a worker or running, an activity outstanding, or nothing outstanding while it waited")
		w("for a signal (named by the signal that ended the wait). Seconds per run, over the %d runs; the means add up:", big.N)
		w("")
		w("| the run was | mean | p50 | p99 |")
		w("|---|---|---|---|")
		for _, st := range big.Handover {
			w("| %s | %.3f | %.3f | %.3f |", st.Step, st.Mean, st.P50, st.P99)
		}
		w("")
	}
	w("What Argo CD in dev was asked to do and did during each wave (from the same watch): refreshes requested (the")
	w("annotation appearing) and sync operations started, of the app-of-apps and of the apps:")
	w("")
	w("| wave | app-of-apps refreshes | app-of-apps syncs | app refreshes | app syncs |")
	w("|---|---|---|---|---|")
	for _, tp := range with {
		a := tp.ArgoWork
		w("| N = %d, %d worker(s) | %d | %d | %d | %d |", tp.N, tp.Workers, a.RootRefreshes, a.RootSyncs, a.AppRefreshes, a.AppSyncs)
	}
	w("")
}

// profileTable lists where a run's time went, the largest first.
func profileTable(w func(string, ...any), what string, p map[string]float64) {
	if len(p) == 0 {
		return
	}
	w("%s (%.3f s from its first to its last history event), by activity type, seconds from scheduled to", what, p["run"])
	w("completed, summed (queueing on the task queue included):")
	w("")
	w("| activity | seconds |")
	w("|---|---|")
	keys := sortedKeys(p)
	sort.SliceStable(keys, func(i, j int) bool { return p[keys[i]] > p[keys[j]] })
	for _, k := range keys {
		if k != "run" {
			w("| %s | %.3f |", k, p[k])
		}
	}
	w("")
}

// pathTable lists a lead-time run's steps, medians over the runs whose steps the watch saw
// whole, and sums them by whose time they are.
func pathTable(w func(string, ...any), samples map[string][]float64) {
	runs := len(samples["path.0"])
	if runs == 0 {
		return
	}
	w("A lead-time run step by step, from run start to run closed: medians over %d runs, to the millisecond (history", runs)
	w("event times, and the arrival times of a watch of dev's Applications):")
	w("")
	w("| step | seconds (median) | min | max |")
	w("|---|---|---|---|")
	by := map[string]float64{}
	for i, step := range pathSteps {
		v := samples[fmt.Sprintf("path.%d", i)]
		if len(v) == 0 {
			continue
		}
		w("| %s | %.3f | %.3f | %.3f |", step, median(v), slices.Min(v), slices.Max(v))
		who, _, _ := strings.Cut(step, ":")
		by[who] += median(v)
	}
	w("")
	parts := []string{}
	for _, who := range sortedKeys(by) {
		parts = append(parts, fmt.Sprintf("%s %.3f s", who, by[who]))
	}
	w("Summed by whose time it is (medians): %s.", strings.Join(parts, ", "))
	w("")
}
