//go:build bench

package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/manifest"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

// tagSeq makes every pushed tag unique within a run of the harness.
var tagSeq atomic.Int64

func newTag() string { return fmt.Sprintf("sha-%07x", 0xb000000+tagSeq.Add(1)) }

// bootstrapDev: dev bootstrapped cold, then again with nothing to change (Runs times).
func bootstrapDev(t *testing.T, r *rig, m mode, res *results) {
	start := time.Now()
	out := r.must("bootstrap", "--env", "dev", "--wait", "--as", "alice")
	res.add("bootstrap.cold", time.Since(start))
	st := r.status(api.BootstrapID("dev"))
	require.Equal(t, api.StageDone, st.Stage, out)
	require.NotNil(t, st.Plan)
	require.Positive(t, st.Plan.Add, "a cold bootstrap creates resources")
	res.HistoryEvents.Bootstrap = r.historyEvents(api.BootstrapID("dev"))
	require.Positive(t, res.HistoryEvents.Bootstrap)
	t.Logf("dev bootstrapped cold in %s: %d history events", time.Since(start).Round(time.Millisecond), res.HistoryEvents.Bootstrap)
	for range m.Runs {
		start := time.Now()
		out := r.must("bootstrap", "--env", "dev", "--wait", "--as", "alice")
		res.add("bootstrap.noChange", time.Since(start))
		require.Contains(t, out, ": no changes", "a rerun changes nothing")
		st := r.status(api.BootstrapID("dev"))
		require.Equal(t, 0, st.Plan.Add+st.Plan.Change+st.Plan.Destroy, out)
		res.NoChangeProfile = r.profile(api.BootstrapID("dev")) // the last rerun's
	}
	t.Logf("no-change bootstraps: %v s", res.Samples["bootstrap.noChange"])
}

// historyEvents counts a run's history events (its latest run).
func (r *rig) historyEvents(id string) int {
	n, _ := r.history(id)
	return n
}

// history counts a run's history events (its latest run), in all and by event type.
func (r *rig) history(id string) (int, map[string]int) {
	r.t.Helper()
	events := r.events(id)
	types := map[string]int{}
	for _, ev := range events {
		types[strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_")]++
	}
	return len(events), types
}

// leadTime: an image pushed with its ECR push event (bin/sandbox image push) until dev's
// Application runs it Synced and Healthy at idp's commit; Runs times. Recorded: push to
// Healthy, run start to Healthy (idp), and that minus Argo CD's own sync operations, timed
// by a watch of dev's Applications to the millisecond (Argo CD records them to the second),
// and the path's steps (pathSteps).
func leadTime(t *testing.T, r *rig, m mode, res *results) {
	dev := r.apps("dev")
	seen := dev.watch(t)
	for range m.Runs {
		tag := newTag()
		id := api.PromoteID("time-service", tag)
		pushed := time.Now()
		out := r.sandbox("image", "push", "time-service", tag)
		require.Contains(t, out, "event: 202 started: started "+id)
		digest := strings.Fields(strings.SplitN(out, "\n", 2)[0])[1]
		image := "/localtime:" + tag + "@" + digest
		polled, last := dev.awaitRuns(t, "time-service-dev", 3*time.Minute, func(a app) bool {
			return a.Sync == "Synced" && a.Health == "Healthy" && imageRunning(a, image)
		})
		st, started, closed := r.result(id)
		require.Equal(t, api.StageDone, st.Stage, st.Error)
		commit := st.Environments[0].Commit
		require.Equal(t, commit, last.Revision, "dev ran the image at idp's commit")
		root, err := dev.get("dev-apps")
		require.NoError(t, err)
		recorded := argoSync(commit, last, root) // to the second

		// The watch's arrival times give the same steps to the millisecond.
		rootM := seen.milestones("dev-apps", commit, "", started)
		appM := seen.milestones("time-service-dev", commit, image, started)
		healthy := appM.Healthy
		if healthy.IsZero() {
			healthy = polled
		}
		argo, okRoot := rootM.syncTime()
		appSync, okApp := appM.syncTime()
		argo += appSync
		if !okRoot || !okApp {
			t.Logf("%s: the watch missed a sync operation's start or end (app-of-apps %+v, app %+v): Argo CD's own record, to the second, stands in", tag, rootM, appM)
			argo = recorded
		}
		handover := r.handover(id)
		res.add("leadTime.pushToHealthy", healthy.Sub(pushed))
		res.add("leadTime.idp", healthy.Sub(started))
		res.add("leadTime.idpOverhead", healthy.Sub(started)-argo)
		res.add("breakdown.pushToRunStart", started.Sub(pushed))
		res.add("breakdown.argoSync", argo)
		res.add("breakdown.argoSyncRecorded", recorded)
		res.add("leadTime.idpHandover", handover)
		res.add("breakdown.healthyToRunEnd", closed.Sub(healthy))
		if steps, marks, ok := path(started, started.Add(handover), rootM, appM, closed); ok {
			for i, d := range steps {
				res.add(fmt.Sprintf("path.%d", i), d)
			}
		} else {
			t.Logf("%s: the path's marks are incomplete or out of order, left out of the table: %v", tag, marks)
		}
		res.LeadTimeProfile = r.profile(id) // the last run's
		t.Logf("%s: push→Healthy %s, run start→Healthy %s, Argo CD syncing %s (%s recorded by Argo CD)", tag, healthy.Sub(pushed).Round(time.Millisecond),
			healthy.Sub(started).Round(time.Millisecond), argo.Round(time.Millisecond), recorded)
	}
}

// argoSync is the time Argo CD's sync operations of commit took, the app-of-apps' and the
// app's own (Argo CD records them to the second).
func argoSync(commit string, apps ...app) time.Duration {
	var d time.Duration
	for _, a := range apps {
		if s, ok := a.syncTime(commit); ok {
			d += s
		}
	}
	return d
}

// result waits for a run to close and returns its status and when it started and closed.
func (r *rig) result(id string) (api.Status, time.Time, time.Time) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var st api.Status
	_ = r.C.GetWorkflow(ctx, id, "").Get(ctx, &st) // a failed run's status is read below
	d, err := r.C.DescribeWorkflow(ctx, id, "")
	require.NoError(r.t, err)
	require.NotNil(r.t, d.WorkflowCloseTime, "%s is still open", id)
	st = r.status(id)
	return st, d.WorkflowStartTime, *d.WorkflowCloseTime
}

// gitopsDefault: the same kind of change made the GitOps way, with no idp: the new image
// committed to the platform repository by hand, then nothing but Argo CD's own reconciliation
// at its default period (dev's controller and repo-server restarted with it, the worker
// stopped so nothing asks for a refresh) until dev runs it Synced and Healthy. A developer's
// commit lands at any moment of the period, so its wait is uniform over it; the commits are
// spread evenly over the period instead of drawn at random (run i of n after (i+½)/n of it,
// counted from the last reconciliation, which brought the app to Healthy), so that a few runs
// estimate the mean wait well: two random draws fall anywhere between 0 and 180 s.
func gitopsDefault(t *testing.T, r *rig, m mode, res *results) {
	r.stopWorkers()
	restore := r.restartArgo(t, "dev", m.GitopsReconcile)
	dev := r.apps("dev")
	clone := r.clone(t)
	for i := range m.GitopsRuns {
		time.Sleep(phase(i, m.GitopsRuns, m.GitopsReconcile))
		tag := newTag()
		digest := r.push("time-service", tag)
		image, commit, committed := r.commitImage(t, clone, "dev", "time-service", tag, digest)
		healthy, _ := dev.awaitRuns(t, "time-service-dev", 2*m.GitopsReconcile+3*time.Minute, func(a app) bool { return a.runs(commit, image) })
		res.add("leadTime.gitopsDefault", healthy.Sub(committed))
		t.Logf("GitOps default (reconcile %s): commit→Healthy %s", m.GitopsReconcile, healthy.Sub(committed).Round(time.Millisecond))
	}
	res.LeadTime.GitopsReconcile = m.GitopsReconcile.Seconds()
	restore()
	r.startWorker()
}

// phase is how long after a reconciliation run i of n commits: the middle of the i-th of n
// equal parts of the period.
func phase(i, n int, period time.Duration) time.Duration {
	return time.Duration((float64(i) + 0.5) / float64(n) * float64(period))
}

// clone is a working copy of the platform repository.
func (r *rig) clone(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "platform")
	gitIn(t, "", "clone", "--quiet", r.Cfg.Repository.URL, dir)
	gitIn(t, dir, "config", "user.email", "dev@example.com")
	gitIn(t, dir, "config", "user.name", "dev")
	return dir
}

// commitImage pins service's image in env by hand and pushes; it returns the image, the
// commit and when the push began.
func (r *rig) commitImage(t *testing.T, dir, env, service, tag, digest string) (string, string, time.Time) {
	gitIn(t, dir, "pull", "--quiet", "--ff-only")
	path := filepath.Join(dir, policy.ManifestPath(env, service))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	cur, err := manifest.Image(b)
	require.NoError(t, err)
	repo := "/" + r.Cfg.Tooling.Repositories[service] + ":"
	i := strings.Index(cur, repo)
	require.GreaterOrEqual(t, i, 0, "%s pins %s, not an image of %s", path, cur, repo)
	image := cur[:i] + repo + tag + "@" + digest
	b, err = manifest.SetImage(b, image)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
	gitIn(t, dir, "commit", "--quiet", "-am", "dev: "+service+" "+tag+" by hand")
	commit := strings.TrimSpace(gitIn(t, dir, "rev-parse", "HEAD"))
	at := time.Now()
	gitIn(t, dir, "push", "--quiet", "origin", "HEAD:main")
	return image, commit, at
}

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v:\n%s", args, out)
	return string(out)
}

// restartArgo restarts env's repo-server and application-controller with reconcile as
// ARGOCD_RECONCILIATION_TIMEOUT (the sandbox sets 60 s); the returned func puts the stack's
// own processes back.
func (r *rig) restartArgo(t *testing.T, env string, reconcile time.Duration) func() {
	names := []string{env + "-argocd-repo-server", env + "-argocd-application-controller"}
	var mine []*exec.Cmd
	for _, name := range names {
		pid := r.procPID(name)
		args := readNul(t, fmt.Sprintf("/proc/%d/cmdline", pid))
		var env []string
		for _, kv := range readNul(t, fmt.Sprintf("/proc/%d/environ", pid)) {
			if !strings.HasPrefix(kv, "ARGOCD_RECONCILIATION_TIMEOUT=") {
				env = append(env, kv)
			}
		}
		require.NoError(t, r.S.Kill(name))
		f, err := os.Create(filepath.Join(r.S.Dir(), "logs", name+"-bench.log"))
		require.NoError(t, err)
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(env, fmt.Sprintf("ARGOCD_RECONCILIATION_TIMEOUT=%ds", int(reconcile.Seconds())))
		cmd.Stdout, cmd.Stderr = f, f
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		require.NoError(t, cmd.Start(), name)
		mine = append(mine, cmd)
	}
	stop := func() {
		for i := len(mine) - 1; i >= 0; i-- {
			_ = syscall.Kill(-mine[i].Process.Pid, syscall.SIGKILL)
			_ = mine[i].Wait()
		}
		for _, name := range names {
			require.NoError(t, r.S.Restart(name))
		}
	}
	t.Cleanup(func() {
		for _, c := range mine {
			if c.ProcessState == nil {
				_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			}
		}
	})
	// A controller started anew compares only apps whose last comparison is older than the
	// period: the app-of-apps waits for its next one, which the commits below land before.
	time.Sleep(10 * time.Second)
	return stop
}

func readNul(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}
