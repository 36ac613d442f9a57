//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/alexpermiakov/idp/cmd/sandbox/stack"
	"github.com/alexpermiakov/idp/cmd/sandbox/stack/stacktest"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestKubeAndArgoCDAway shares one stack (dev bootstrapped once) between two faults:
//
// Fault 7, the Kubernetes API down during InstallArgoCD: dev's kube-apiserver is killed once
// the install has applied Argo CD's CRDs and started again 8 s later. The bootstrap must
// finish; the install resumes after what its interrupted attempt applied and reports every
// object once: created ones (by either attempt) as created, none found already there as
// created. Recovery: from the API's restart to the install's step in status.
//
// Fault 4, Argo CD away: dev's application-controller is stopped for 60 s while a promotion
// waits for health. The wait must neither fail early nor spin (GETs of Applications on the
// kube-apiserver, from its own metrics, stay under 1/s), status must say "Argo CD unreachable
// since …", and the promotion must end done once the controller is back (recovery: restart to
// done). Then, with dev's healthTimeout shortened to 30 s, the controller stays away past it:
// the step fails with a message naming Argo CD, and nothing is rolled back (recovery: the
// time to that clean failure).
func TestKubeAndArgoCDAway(t *testing.T) {
	r := up(t, stack.Options{})
	w := r.StartWorker()
	kc, err := clientcmd.BuildConfigFromFlags("", r.S.Kubeconfigs["dev"])
	require.NoError(t, err)
	kc.Timeout = 2 * time.Second
	kube, err := kubernetes.NewForConfig(kc)
	require.NoError(t, err)

	t.Run("kube API down during InstallArgoCD", func(t *testing.T) { kubeDownDuringInstall(t, r, kube) })
	if t.Failed() {
		return
	}
	t.Run("Argo CD away 60 s during a health wait", func(t *testing.T) { argoAwayDuringWait(t, r, kube) })
	if t.Failed() {
		return
	}
	t.Run("Argo CD away past healthTimeout", func(t *testing.T) {
		cfg, err := os.ReadFile(r.S.Config)
		require.NoError(t, err)
		short := strings.ReplaceAll(string(cfg), "healthTimeout: 3m", "healthTimeout: 30s")
		require.NotEqual(t, string(cfg), short, "the sandbox's idp.yaml sets healthTimeout: 3m")
		require.NoError(t, os.WriteFile(r.S.Config, []byte(short), 0o644))
		w.Stop() // the worker reads idp.yaml when it starts
		r.StartWorker()
		argoAwayPastTimeout(t, r)
	})
}

func kubeDownDuringInstall(t *testing.T, r *rig, kube *kubernetes.Clientset) {
	code, out := r.Starter("bootstrap", "--env", "dev")
	require.Equal(t, 0, code, out)
	awaitCreated(t, r, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "applications.argoproj.io", 4*time.Minute)
	require.NoError(t, r.S.Kill("dev-kube-apiserver"))
	t.Logf("dev-kube-apiserver killed once Argo CD's CRDs were applied")
	time.Sleep(8 * time.Second)
	require.NoError(t, r.S.Restart("dev-kube-apiserver"))
	restarted := time.Now()
	awaitAPI(t, r, kube, "dev-kube-apiserver")

	var line string
	r.AwaitStatus("bootstrap-dev", 3*time.Minute, func(st api.Status) bool {
		require.NotEqual(t, api.StageFailed, st.Stage, "bootstrap failed: %s", st.Error)
		for _, s := range st.Steps {
			if strings.HasPrefix(s, "Argo CD v") && strings.Contains(s, " in dev: ") {
				line = s
			}
		}
		return line != ""
	})
	Recovered(t, "Kubernetes API down 8 s during InstallArgoCD", time.Since(restarted))
	t.Logf("install step: %s", line)
	m := regexp.MustCompile(`(\d+) objects: (\d+) created, (\d+) updated, (\d+) unchanged \(resumed after (\d+) applies`).FindStringSubmatch(line)
	require.NotNil(t, m, "the install resumed and says so: %q", line)
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	objects, created, updated := n(1), n(2), n(3)
	require.Positive(t, n(5), "it resumed after the applies the first attempt did")
	// Nothing was there before: every object counts once, as created by one of the attempts,
	// except one whose apply landed as the API died (found there, maybe then updated).
	require.GreaterOrEqual(t, created+updated, objects-1, "the first attempt's objects are counted: %q", line)
	require.LessOrEqual(t, updated, 1, "only an object found there after a lost answer may count as updated: %q", line)
	require.LessOrEqual(t, created, objects, line)

	st := r.AwaitStatus("bootstrap-dev", 4*time.Minute, func(st api.Status) bool {
		return st.Stage == api.StageDone || st.Stage == api.StageFailed
	})
	require.Equal(t, api.StageDone, st.Stage, "bootstrap: %s", st.Error)
}

// promoteAndKill pushes tag, starts its promotion into dev, and stops dev's
// application-controller as soon as the promotion waits for health.
func promoteAndKill(t *testing.T, r *rig, tag string) (string, time.Time) {
	_, err := stack.PushImage(context.Background(), r.S.Endpoints["tooling"], stack.PushOptions{Service: "time-service", Tag: tag, NoEvent: true})
	require.NoError(t, err)
	code, out := r.Starter("promote", "--service", "time-service", "--tag", tag)
	require.Equal(t, 0, code, out)
	id := "promote-time-service-" + tag
	r.AwaitStatus(id, 2*time.Minute, func(st api.Status) bool {
		require.NotEqual(t, api.StageFailed, st.Stage, st.Error)
		return len(st.Environments) > 0 && st.Environments[0].State == api.EnvVerifying
	})
	require.NoError(t, r.S.Kill("dev-argocd-application-controller"))
	return id, time.Now()
}

func argoAwayDuringWait(t *testing.T, r *rig, kube *kubernetes.Clientset) {
	id, killed := promoteAndKill(t, r, "sha-a1a1a1a")
	before := appGets(t, r)
	var note string
	for time.Since(killed) < 60*time.Second || (note == "" && time.Since(killed) < 90*time.Second) {
		st := r.Status(id)
		require.NotEqual(t, api.StageFailed, st.Stage, "the wait failed early: %s", st.Error)
		require.NotEqual(t, api.StageDone, st.Stage, "done without Argo CD?")
		for _, n := range st.Notes {
			if strings.Contains(n, "Argo CD unreachable since") && note == "" {
				note = n
				t.Logf("%.0fs after the kill, status says: %s", time.Since(killed).Seconds(), n)
			}
		}
		time.Sleep(2 * time.Second)
	}
	gets := appGets(t, r) - before
	away := time.Since(killed)
	require.NotEmpty(t, note, "status never said Argo CD is unreachable")
	rate := float64(gets) / away.Seconds()
	t.Logf("GET applications on dev's kube-apiserver while Argo CD was away: %d in %.0fs (%.2f/s)", gets, away.Seconds(), rate)
	// The wait reads its Application from the env's watch, so looking costs no GETs; that it
	// kept looking is the note above, which only its reads over time produce.
	require.Less(t, rate, 1.0, "the wait does not spin")

	require.NoError(t, r.S.Restart("dev-argocd-application-controller"))
	restarted := time.Now()
	st := r.AwaitStatus(id, 3*time.Minute, func(st api.Status) bool {
		return st.Stage == api.StageDone || st.Stage == api.StageFailed
	})
	require.Equal(t, api.StageDone, st.Stage, "promotion: %s", st.Error)
	require.Equal(t, api.EnvDone, st.Environments[0].State)
	Recovered(t, "Argo CD away 60 s during a health wait", time.Since(restarted))
	require.Empty(t, r.Status(id).Notes, "nothing is unreachable any more")
}

func argoAwayPastTimeout(t *testing.T, r *rig) {
	id, killed := promoteAndKill(t, r, "sha-b2b2b2b")
	defer func() { _ = r.S.Restart("dev-argocd-application-controller") }()
	st := r.AwaitStatus(id, 3*time.Minute, func(st api.Status) bool {
		return st.Stage == api.StageDone || st.Stage == api.StageFailed
	})
	Recovered(t, "Argo CD away past healthTimeout (30 s): step fails naming Argo CD", time.Since(killed))
	require.Equal(t, api.StageFailed, st.Stage)
	t.Logf("error: %s", st.Error)
	require.Contains(t, st.Error, "Argo CD unreachable since")
	require.Contains(t, st.Error, "not rolled back")
	require.NotContains(t, st.Error, "not Synced and Healthy", "the release is not blamed")
	require.Equal(t, api.EnvFailed, st.Environments[0].State, "failed, not rolled back")
	for _, s := range st.Steps {
		require.NotContains(t, s, "rolling back", "a release nobody saw fail is not rolled back")
	}
}

// appGets is dev's kube-apiserver's count of GET requests for Applications, from its metrics.
func appGets(t *testing.T, r *rig) int {
	t.Helper()
	return stacktest.KubeRequests(t, r.S.Kubeconfigs["dev"])["GET applications"].Count
}

// awaitCreated returns as soon as the object name of the collection at path exists. It
// watches, not polls: an install applies Argo CD's ~60 objects in well under a second, so a
// poll (paced besides by client-go's 5 requests/s) may see the CRD only once the install is
// over, and the fault would miss it.
func awaitCreated(t *testing.T, r *rig, path, name string, within time.Duration) {
	t.Helper()
	kc, err := clientcmd.BuildConfigFromFlags("", r.S.Kubeconfigs["dev"])
	require.NoError(t, err)
	kube, err := kubernetes.NewForConfig(kc) // no client timeout: it would end the watch
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		stream, err := kube.RESTClient().Get().AbsPath(path).Param("watch", "true").
			Param("fieldSelector", "metadata.name="+name).Stream(ctx)
		if err == nil {
			var ev struct{ Type string }
			err = json.NewDecoder(stream).Decode(&ev) // the first event: ADDED, even for one already there
			stream.Close()
			if err == nil && ev.Type == "ADDED" {
				return
			}
		}
		require.NoError(t, ctx.Err(), "%s/%s not created within %s: %s", path, name, within, r.Status("bootstrap-dev").Steps)
		time.Sleep(100 * time.Millisecond) // the watch ended without it (the server closes watches now and then)
	}
}

// awaitAPI waits until the restarted kube-apiserver answers, so a restart that failed (its
// port taken meanwhile) fails here with its log, not later as a bootstrap that never ends.
func awaitAPI(t *testing.T, r *rig, kube *kubernetes.Clientset, name string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		_, err := kube.RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(r.S.Dir(), "logs", name+".log"))
			lines := strings.Split(strings.TrimSpace(string(log)), "\n")
			t.Fatalf("%s does not answer 90 s after its restart (%v; it runs: %v); the end of its log:\n%s",
				name, err, r.S.ProcNames(), strings.Join(lines[max(0, len(lines)-15):], "\n"))
		}
		time.Sleep(250 * time.Millisecond)
	}
}
