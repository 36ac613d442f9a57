//go:build bench

package bench

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/alexpermiakov/idp/cmd/sandbox/stack/stacktest"
)

// benchProcess names the bench's own process in cpuByProcess: it runs the AWS emulators, the
// starter CLI's calls and the Git remote's server side.
const benchProcess = "bench (AWS emulators, starter CLI, git)"

// cpuByProcess is the CPU seconds (children waited for included) each process of the stack
// has used so far, by name; env-specific processes are summed by kind ("argocd-repo-server"
// for every env's), the workers into "worker".
func (r *rig) cpuByProcess() map[string]float64 {
	r.t.Helper()
	cpu := map[string]float64{}
	add := func(name string, pid int) {
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err != nil {
			return // gone (a restarted process): its replacement is listed too
		}
		ps := readProc(r.t, pid)
		cpu[name] += ps.CPUSeconds + ps.ChildCPUSeconds
	}
	for _, p := range r.procs() {
		add(processKind(p.Name), p.PID)
	}
	for _, w := range r.workers {
		add("worker", w.pid())
	}
	add(benchProcess, os.Getpid())
	return cpu
}

// processKind drops the env prefix of an env's process ("dev-argocd-repo-server").
func processKind(name string) string {
	for _, env := range []string{"dev-", "staging-", "prod-"} {
		if rest, ok := strings.CutPrefix(name, env); ok {
			return rest
		}
	}
	return name
}

// cpuSince is what each process used since before (rounded to 0.1 s; those that used none
// are left out).
func cpuSince(before, after map[string]float64) map[string]float64 {
	d := map[string]float64{}
	for name, v := range after {
		if used := v - before[name]; used >= 0.05 {
			d[name] = float64(int(used*10+0.5)) / 10
		}
	}
	return d
}

// kubeRequest is what dev's kube-apiserver spent on one verb of one resource during a wave.
type kubeRequest = stacktest.Requests

// kubeRequests reads dev's kube-apiserver's request counters.
func (r *rig) kubeRequests() map[string]kubeRequest {
	r.t.Helper()
	return stacktest.KubeRequests(r.t, r.S.Kubeconfigs["dev"])
}

// kubeSince is what the kube-apiserver did since before, the most time first (the top 10;
// watches left out, whose latency is how long they stayed open).
func kubeSince(before, after map[string]kubeRequest) []kubeRequest {
	var d []kubeRequest
	for key, a := range after {
		b := before[key]
		if a.Verb == "WATCH" {
			continue // a watch's latency is how long it stayed open, not work
		}
		if n := a.Count - b.Count; n > 0 {
			d = append(d, kubeRequest{Verb: a.Verb, Resource: a.Resource, Count: n, Seconds: float64(int((a.Seconds-b.Seconds)*100+0.5)) / 100})
		}
	}
	sort.Slice(d, func(i, j int) bool {
		if d[i].Seconds != d[j].Seconds {
			return d[i].Seconds > d[j].Seconds
		}
		return d[i].Verb+d[i].Resource < d[j].Verb+d[j].Resource
	})
	return d[:min(len(d), 10)]
}
