//go:build faults

package faults

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/cmd/sandbox/stack"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/manifest"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

// hotfixPattern is the entry pattern prodRig gives prod, so a tag goes straight to prod.
const hotfixPattern = `^hotfix-[0-9]+$`

// prodRig is a stack whose prod takes hotfix-N tags directly (no staging, no dev before it)
// and is bootstrapped, and whose platform repository pauses a push when asked (hooks).
type prodRig struct {
	*rig
	bare  string // the platform repository (bare)
	hooks string // where the hooks record pushes and look for a pause request
}

// prodOnly rewrites the stack's idp.yaml before any worker reads it: prod gets an entry
// pattern of its own and no requirePassed (a promotion into prod then needs no staging,
// which would cost a bootstrap and a 90 s soak), and no plan approval for its bootstrap.
// Prod's promotion policy is otherwise the real one: a proposal branch merged after a
// four-eyes approval bound to the digest.
func prodOnly(t *testing.T, r *rig) *prodRig {
	t.Helper()
	b, err := os.ReadFile(r.S.Config)
	require.NoError(t, err)
	y := string(b)
	prod := strings.Index(y, "  - name: prod\n")
	require.Positive(t, prod, "the sandbox's idp.yaml has no prod:\n%s", y)
	head, tail := y[:prod], y[prod:]
	for _, edit := range [][2]string{
		{"      requirePassed: staging\n", "      entryPattern: '" + hotfixPattern + "'\n"},
	} {
		require.Contains(t, tail, edit[0], "prod in the sandbox's idp.yaml changed: update prodOnly")
		tail = strings.Replace(tail, edit[0], edit[1], 1)
	}
	plan := regexp.MustCompile(`(?m)^      planApproval: \{.*\}$`)
	require.Regexp(t, plan, tail, "prod in the sandbox's idp.yaml changed: update prodOnly")
	tail = plan.ReplaceAllString(tail, "      planApproval: {required: false}")
	require.NoError(t, os.WriteFile(r.S.Config, []byte(head+tail), 0o644))
	r.Cfg, err = config.Load(r.S.Config)
	require.NoError(t, err, "the rewritten idp.yaml")
	p := &prodRig{rig: r, bare: strings.TrimPrefix(r.Cfg.Repository.URL, "file://"), hooks: filepath.Join(r.S.Dir(), "githooks")}
	p.installHooks(t)
	return p
}

// pushHook is the platform repository's pre-receive and post-receive hook. post-receive
// records every ref update that landed; either pauses once, when the test asked for it
// (a file "pause": hook name, ref, text the pushed commit's message contains), by renaming
// the request to "paused" and sleeping: the worker's push is in flight (pre-receive: not
// landed yet; post-receive: landed, not yet reported to the worker) until the test kills
// the worker, and the hook with it (it runs in the worker's process group).
const pushHook = `#!/bin/sh
d='@HOOKS@'
hook=$(basename "$0")
while read old new ref; do
  if [ "$hook" = post-receive ]; then echo "$ref $old $new" >> "$d/pushes"; fi
  if [ -f "$d/pause" ] && [ "$hook" = "$(sed -n 1p "$d/pause")" ] && [ "$ref" = "$(sed -n 2p "$d/pause")" ] &&
     git log -1 --format=%B "$new" | grep -qF "$(sed -n 3p "$d/pause")" && mv "$d/pause" "$d/paused"; then
    sleep 300
  fi
done
`

func (p *prodRig) installHooks(t *testing.T) {
	t.Helper()
	require.NoError(t, os.MkdirAll(p.hooks, 0o755))
	for _, h := range []string{"pre-receive", "post-receive"} {
		path := filepath.Join(p.bare, "hooks", h)
		require.NoError(t, os.WriteFile(path, []byte(strings.Replace(pushHook, "@HOOKS@", p.hooks, 1)), 0o755))
	}
}

// pauseNext asks the hook to hold the next push of ref whose commit message contains text.
func (p *prodRig) pauseNext(t *testing.T, hook, ref, text string) {
	t.Helper()
	_ = os.Remove(filepath.Join(p.hooks, "paused"))
	require.NoError(t, os.WriteFile(filepath.Join(p.hooks, "pause"), []byte(hook+"\n"+ref+"\n"+text+"\n"), 0o644))
}

// awaitPaused waits until the hook holds a push.
func (p *prodRig) awaitPaused(t *testing.T, timeout time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(p.hooks, "paused"))
		return err == nil
	}, timeout, 100*time.Millisecond, "no push reached the hook")
}

// pushes lists the ref updates that landed on ref, as "old new".
func (p *prodRig) pushes(t *testing.T, ref string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.hooks, "pushes"))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if r, rest, ok := strings.Cut(l, " "); ok && r == ref {
			out = append(out, rest)
		}
	}
	return out
}

func (p *prodRig) git(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"--git-dir", p.bare}, args...)...).CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// pinned is the image the manifest pins at rev (a commit or branch).
func (p *prodRig) pinned(t *testing.T, rev, service string) string {
	t.Helper()
	img, err := manifest.Image([]byte(p.git(t, "show", rev+":"+policy.ManifestPath("prod", service))))
	require.NoError(t, err)
	return img
}

// pushImage plays CI: the image tag in the tooling ECR, no push event.
func (p *prodRig) pushImage(t *testing.T, service, tag string) {
	t.Helper()
	out, err := exec.Command(filepath.Join("..", "bin", "sandbox"), "--dir", p.S.Dir(), "image", "push", service, tag, "--no-event").CombinedOutput()
	require.NoError(t, err, "sandbox image push: %s", out)
}

// pendingActivities names the activities the run has started and not finished.
func (p *prodRig) pendingActivities(t *testing.T, id string) []string {
	t.Helper()
	c := p.Client()
	defer c.Close()
	d, err := c.DescribeWorkflow(context.Background(), id, "")
	require.NoError(t, err)
	var names []string
	for _, a := range d.RawResponse.GetPendingActivities() {
		names = append(names, a.GetActivityType().GetName())
	}
	return names
}

func (p *prodRig) promote(t *testing.T, service, tag string) string {
	t.Helper()
	p.pushImage(t, service, tag)
	code, out := p.Starter("promote", "--service", service, "--tag", tag, "--to", "prod", "--as", "alice")
	require.Equal(t, 0, code, out)
	return api.PromoteID(service, tag)
}

func stageIs(stages ...api.Stage) func(api.Status) bool {
	return func(st api.Status) bool {
		for _, s := range stages {
			if st.Stage == s {
				return true
			}
		}
		return st.Stage == api.StageFailed
	}
}

// awaitServer waits until a restarted dev server answers.
func (r *rig) awaitServer(timeout time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := client.DialContext(ctx, client.Options{HostPort: r.S.TemporalAddress(), Logger: quiet{}})
		if err == nil {
			_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
			c.Close()
		}
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("the dev server does not answer %s after its restart: %v\n%s", timeout, err,
				tailOf(filepath.Join(r.S.Dir(), "logs", "temporal.log")))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestProdPromotionFaults runs faults 2 and 3 on one stack whose dev server keeps its state
// in a file (so it survives a restart) and whose prod is bootstrapped once.
func TestProdPromotionFaults(t *testing.T) {
	r := up(t, stack.Options{TemporalDB: filepath.Join(t.TempDir(), "temporal.db")})
	p := prodOnly(t, r)
	w := p.StartWorker()
	code, out := p.Starter("bootstrap", "--env", "prod", "--wait", "--as", "alice")
	require.Equal(t, 0, code, "bootstrap of prod:\n%s", out)
	t.Run("worker killed in the middle of the prod pushes", func(t *testing.T) { w = workerKilledInPush(t, p, w) })
	if t.Failed() {
		return
	}
	t.Run("dev server restarted while runs wait", func(t *testing.T) { devServerRestarted(t, p, w) })
}

// workerKilledInPush is fault 2: the worker is SIGKILLed while its push of a prod
// promotion is in flight, twice: while the proposal branch is pushed (the push never lands)
// and while the approved proposal is merged into main (the push landed, the worker never
// heard). After each, a new worker finishes the step. What must hold: the proposal branch
// and main were each updated once (nothing pushed twice, no second proposal), prod pins the
// approved digest, and the run still holds the image prod ran before (what a rollback
// restores), which is main's state just before the merge.
func workerKilledInPush(t *testing.T, p *prodRig, w *Worker) *Worker {
	const service, tag = "time-service", "hotfix-1"
	before := p.pinned(t, "main", service)
	branch := "refs/heads/" + policy.ProposalBranch(service, "prod", tag)
	id := api.PromoteID(service, tag)
	mark := "workflow: " + id

	p.pauseNext(t, "pre-receive", branch, mark)
	p.promote(t, service, tag)
	p.awaitPaused(t, 2*time.Minute)
	require.Contains(t, p.pendingActivities(t, id), "WriteImage", "the kill comes while the proposal is written")
	w.Kill()
	killed := time.Now()
	w = p.StartWorker()
	st := p.AwaitStatus(id, 2*time.Minute, stageIs(api.StageWaitingApproval))
	require.Equal(t, api.StageWaitingApproval, st.Stage, st.Error)
	Recovered(t, "worker SIGKILL while the prod proposal is pushed", time.Since(killed))
	require.Len(t, p.pushes(t, branch), 1, "the proposal branch was pushed once")
	proposal := p.git(t, "rev-parse", branch)
	require.Equal(t, "1", p.git(t, "rev-list", "--count", "main.."+branch), "one commit on main")

	p.pauseNext(t, "post-receive", "refs/heads/main", mark)
	code, out := p.Starter("approve", id, "--as", "bob")
	require.Equal(t, 0, code, out)
	p.awaitPaused(t, time.Minute)
	require.Contains(t, p.pendingActivities(t, id), "MergeProposal", "the kill comes while the merge is pushed")
	w.Kill()
	killed = time.Now()
	w = p.StartWorker()
	st = p.AwaitStatus(id, 2*time.Minute, stageIs(api.StageVerifying, api.StageDone))
	require.NotEqual(t, api.StageFailed, st.Stage, st.Error)
	Recovered(t, "worker SIGKILL while the approved prod merge is pushed", time.Since(killed))
	st = p.AwaitStatus(id, 3*time.Minute, stageIs(api.StageDone))
	require.Equal(t, api.StageDone, st.Stage, st.Error)

	merges := p.pushes(t, "refs/heads/main")
	require.Len(t, merges, 1, "main moved once: %q", merges)
	require.True(t, strings.HasSuffix(merges[0], " "+proposal), "main moved to the approved commit: %q", merges)
	require.Len(t, p.pushes(t, branch), 1, "no second proposal")
	require.Equal(t, "1", p.git(t, "rev-list", "--count", "--grep", mark, "main"), "one commit of the run on main")
	prod := st.Environments[0]
	require.Equal(t, "prod", prod.Name)
	require.True(t, strings.HasSuffix(prod.Image, ":"+tag+"@"+st.Digest), prod.Image)
	require.Equal(t, prod.Image, p.pinned(t, "main", service), "prod pins the approved digest")
	require.Equal(t, proposal, prod.Commit)
	require.Equal(t, before, prod.Previous, "the run keeps what prod ran before")
	require.Equal(t, before, p.pinned(t, proposal+"^", service), "main before the merge pins it: a rollback restores it")
	return w
}

// devServerRestarted is fault 3: the Temporal dev server is killed and started again (on its
// database file) while one prod promotion waits for its approval and another, approved, waits
// for Argo CD to report it Healthy (prod's application controller is held off until then, so
// the wait is sure to be under way). What must hold: the worker, never restarted, polls again
// by itself; an approval given after the restart counts; both runs finish.
func devServerRestarted(t *testing.T, p *prodRig, w *Worker) {
	waiting := p.promote(t, "version-service", "hotfix-2")
	healthy := p.promote(t, "time-service", "hotfix-3")
	for _, id := range []string{waiting, healthy} {
		st := p.AwaitStatus(id, 2*time.Minute, stageIs(api.StageWaitingApproval))
		require.Equal(t, api.StageWaitingApproval, st.Stage, "%s: %s", id, st.Error)
	}
	const controller = "prod-argocd-application-controller"
	require.NoError(t, p.S.Kill(controller))
	code, out := p.Starter("approve", healthy, "--as", "bob")
	require.Equal(t, 0, code, out)
	st := p.AwaitStatus(healthy, time.Minute, stageIs(api.StageVerifying))
	require.Equal(t, api.StageVerifying, st.Stage, st.Error)

	require.NoError(t, p.S.Kill("temporal"))
	killed := time.Now()
	time.Sleep(3 * time.Second)
	require.NoError(t, p.S.Restart("temporal"))
	p.awaitServer(90 * time.Second)
	require.NoError(t, p.S.Restart(controller))
	require.Eventually(t, p.polled, time.Minute, 200*time.Millisecond, "the worker does not poll the restarted dev server")
	t.Logf("the worker polls again %.1fs after the kill", time.Since(killed).Seconds())
	select {
	case <-w.done:
		t.Fatalf("the worker exited when the dev server went away:\n%s", tailOf(w.Log))
	default:
	}

	code, out = p.Starter("approve", waiting, "--as", "carol")
	require.Equal(t, 0, code, "an approval after the restart: %s", out)
	for _, id := range []string{healthy, waiting} {
		st := p.AwaitStatus(id, 3*time.Minute, stageIs(api.StageDone))
		require.Equal(t, api.StageDone, st.Stage, "%s: %s", id, st.Error)
		require.Equal(t, st.Environments[0].Image, p.pinned(t, "main", st.Service), id)
	}
	Recovered(t, "Temporal dev server restart (both runs done)", time.Since(killed))
	st = p.Status(waiting)
	require.Len(t, st.Approvals, 1)
	require.Equal(t, "carol", st.Approvals[0].Who)
}
