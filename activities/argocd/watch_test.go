package argocd

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/alexpermiakov/idp/internal/config"
)

// Waits on a real kube-apiserver see Argo CD's verdict when it is written, not at their next
// poll: with polls an hour apart, only the watch can end these waits. Two waits in one env
// share one watch, each is woken for its own Application only, and the watch stops with the
// last of them. Not parallel: it slows every wait's polls.
func TestWaitAppWakesOnTheWatch(t *testing.T) {
	c := startTestCluster(t)
	saved := appPolls
	appPolls = backoff{next: time.Hour, max: time.Hour}
	t.Cleanup(func() { appPolls = saved })

	const commit = "0123456789abcdef0123456789abcdef01234567"
	since := time.Now().Add(-time.Minute)
	apps := []string{"svc-a", "svc-b"}
	for _, app := range apps {
		c.setApp(t, app, commit, "Progressing", "rollout in progress")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	type result struct {
		app string
		out WaitAppOutput
		err error
	}
	results := make(chan result, len(apps))
	var reads atomic.Int32
	for _, app := range apps {
		in := WaitAppInput{Snapshot: config.Snapshot{Env: config.Environment{Name: "dev"}}, App: app, Commit: commit,
			Since: since, Timeout: time.Hour}
		go func() {
			out, err := waitApp(ctx, c.kube, "argocd", in, exactly(commit), func(AppStatus) { reads.Add(1) })
			results <- result{app, out, err}
		}()
	}
	require.Eventually(t, func() bool { return reads.Load() >= int32(len(apps)) }, 30*time.Second, 10*time.Millisecond,
		"both waits read their Application once")
	c.kube.watches.mu.Lock()
	require.Len(t, c.kube.watches.running, 1, "one watch for the env's Applications")
	c.kube.watches.mu.Unlock()
	// The watch wakes every wait as it opens, before it has delivered the Applications: a
	// wait woken then reads from the API. Counted from when the watch holds both and the
	// server's count (kept after it answers) has settled.
	require.Eventually(t, func() bool {
		for _, app := range apps {
			if o, ok := c.kube.Latest(gvkApp, "argocd", app); !ok || o == nil {
				return false
			}
		}
		return true
	}, 30*time.Second, 10*time.Millisecond, "the watch holds both Applications")
	gets := c.settledAppGETs(t)

	// Woken by changes, the waits read their Application as the watch delivered it: no GETs.
	for i := range 5 {
		before := reads.Load()
		c.setApp(t, apps[0], commit, "Progressing", fmt.Sprintf("rollout step %d", i))
		require.Eventually(t, func() bool { return reads.Load() > before }, 30*time.Second, 10*time.Millisecond, "the wait was woken")
	}
	obj, ok := c.kube.Latest(gvkApp, "argocd", apps[0])
	require.True(t, ok, "the watch holds the Application")
	msg, _, _ := unstructured.NestedString(obj.Object, "status", "health", "message")
	require.Equal(t, "rollout step 4", msg, "its last version")
	require.Equal(t, 5, c.settledAppGETs(t)-gets, "GETs of Applications while the waits were woken 5 times: the test's 5 writes' own (Apply reads first), none of the waits'")

	for _, app := range apps {
		c.setApp(t, app, commit, "Healthy", "", "registry/idp/"+app+":v1")
		select {
		case r := <-results:
			require.Equal(t, app, r.app, "the wait on the Application that changed ends, not the other")
			require.NoError(t, r.err)
			require.Equal(t, "Healthy", r.out.Status.Health)
		case <-ctx.Done():
			t.Fatalf("the wait on %s did not see it Healthy: %v", app, ctx.Err())
		}
	}
	c.kube.watches.mu.Lock()
	require.Empty(t, c.kube.watches.running, "the watch stops with its last wait")
	c.kube.watches.mu.Unlock()
	_, ok = c.kube.Latest(gvkApp, "argocd", apps[0])
	require.False(t, ok, "with no watch, nothing is held: reads go to the API")
}

// A deleted Application reads as missing from the watch, as from the API.
func TestLatestForgetsADeletedApplication(t *testing.T) {
	c := startTestCluster(t)
	c.setApp(t, "svc-a", "abc", "Healthy", "")
	changed, stop := c.kube.Changes(gvkApp, "argocd", "svc-a")
	defer stop()
	require.Eventually(t, func() bool { _, ok := c.kube.Latest(gvkApp, "argocd", "svc-a"); return ok }, 30*time.Second, 10*time.Millisecond,
		"the watch delivers the Application there")
	c.deleteApp(t, "svc-a")
	select {
	case <-changed:
	case <-time.After(30 * time.Second):
		t.Fatal("the deletion did not wake the listener")
	}
	require.Eventually(t, func() bool { o, ok := c.kube.Latest(gvkApp, "argocd", "svc-a"); return ok && o == nil }, 30*time.Second, 10*time.Millisecond)
	obj, err := getApp(context.Background(), c.kube, "argocd", "svc-a")
	require.NoError(t, err)
	require.Nil(t, obj, "missing, as the API would say")
}

// A refresh is one merge patch of the annotation, by idp's refresh manager, that leaves the
// rest of the Application as Argo CD wrote it; a missing Application stays missing.
func TestRefreshIsOnePatch(t *testing.T) {
	c := startTestCluster(t)
	c.setApp(t, "svc-a", "abc", "Healthy", "", "registry/idp/svc-a:v1")
	ctx := context.Background()

	before := c.appRequests(t)
	require.NoError(t, refresh(ctx, c.kube, "argocd", "svc-a"))
	after := c.appRequests(t)
	require.Equal(t, before["PATCH"]+1, after["PATCH"], "one PATCH")
	require.Equal(t, before["GET"], after["GET"], "no GET")
	require.Equal(t, before["APPLY"], after["APPLY"], "no APPLY")

	obj, err := c.kube.Get(ctx, gvkApp, "argocd", "svc-a")
	require.NoError(t, err)
	require.Equal(t, refreshNormal, obj.GetAnnotations()[annotationRefresh])
	health, _, _ := unstructured.NestedString(obj.Object, "status", "health", "status")
	require.Equal(t, "Healthy", health, "the status stays")
	var managers []string
	for _, m := range obj.GetManagedFields() {
		managers = append(managers, m.Manager)
	}
	require.Contains(t, managers, refreshManager, "the annotation is idp's refresh manager's")

	require.NoError(t, refresh(ctx, c.kube, "argocd", "missing"), "nothing to refresh is not an error")
	obj, err = c.kube.Get(ctx, gvkApp, "argocd", "missing")
	require.NoError(t, err)
	require.Nil(t, obj, "no Application without a spec is created")
}

// The waits of a group commit ask for one refresh of their app-of-apps: a refresh this process
// set anew after a commit was written covers the waits of that commit; one written later, or
// a refresh that only joined a request already pending, does not.
func TestRefreshForCoalesces(t *testing.T) {
	c := startTestCluster(t)
	c.setApp(t, "dev-apps", "abc", "Healthy", "")
	_, stop := c.kube.Changes(gvkApp, "argocd", "dev-apps")
	defer stop()
	ctx := context.Background()
	annotated := func(want bool) {
		t.Helper()
		require.Eventually(t, func() bool {
			obj, ok := c.kube.Latest(gvkApp, "argocd", "dev-apps")
			if !ok || obj == nil {
				return false
			}
			_, pending := obj.GetAnnotations()[annotationRefresh]
			return pending == want
		}, 10*time.Second, 5*time.Millisecond, "the watch shows the annotation there: %v", want)
	}
	patches := func(do func()) int {
		t.Helper()
		before := c.appRequests(t)["PATCH"]
		do()
		return c.appRequests(t)["PATCH"] - before
	}
	// takeIt plays the application controller taking the request: it removes the annotation.
	takeIt := func() {
		t.Helper()
		_, err := c.kube.dyn.Resource(schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}).
			Namespace("argocd").Patch(ctx, "dev-apps", types.MergePatchType,
			[]byte(`{"metadata":{"annotations":{"`+annotationRefresh+`":null}}}`), metav1.PatchOptions{FieldManager: "argocd-application-controller"})
		require.NoError(t, err)
		annotated(false)
	}
	annotated(false)

	written := time.Now()
	require.Equal(t, 1, patches(func() { require.NoError(t, refreshFor(ctx, c.kube, "argocd", "dev-apps", written)) }), "the first wait asks")
	annotated(true)
	for range 3 {
		require.Zero(t, patches(func() { require.NoError(t, refreshFor(ctx, c.kube, "argocd", "dev-apps", written)) }),
			"the other waits of the same commit do not")
	}
	takeIt()
	require.Zero(t, patches(func() { require.NoError(t, refreshFor(ctx, c.kube, "argocd", "dev-apps", written)) }),
		"nor once Argo CD has taken it: it compared after the commit")

	later := time.Now()
	require.Equal(t, 1, patches(func() { require.NoError(t, refreshFor(ctx, c.kube, "argocd", "dev-apps", later)) }),
		"a commit written after the last request is asked for")
	annotated(true)

	// A request that finds the annotation pending joins one Argo CD may be working on with Git
	// as it was before: it covers nobody, so the next wait asks again.
	latest := time.Now()
	require.Equal(t, 1, patches(func() { require.NoError(t, refreshFor(ctx, c.kube, "argocd", "dev-apps", latest)) }))
	require.Equal(t, 1, patches(func() { require.NoError(t, refreshFor(ctx, c.kube, "argocd", "dev-apps", latest)) }))
}

// A wait asks the application controller for a refresh, to learn whether it is there, only
// while it shows no life: another Application reconciled meanwhile is enough. A hundred waits
// queued behind each other's syncs then add no comparisons to the controller's queue.
func TestWaitProbesOnlyAnIdleController(t *testing.T) {
	pa, aw := probeAfter, answerWithin
	probeAfter, answerWithin = 1500*time.Millisecond, time.Minute
	t.Cleanup(func() { probeAfter, answerWithin = pa, aw })
	c := startTestCluster(t)
	c.setApp(t, "svc-a", "old", "Healthy", "")
	c.setApp(t, "svc-b", "old", "Healthy", "")
	in := WaitAppInput{Snapshot: config.Snapshot{Env: config.Environment{Name: "dev"}}, App: "svc-a", Commit: "c0ffee",
		Since: time.Now(), Timeout: 5 * time.Second}
	wait := func() (probes int) {
		t.Helper()
		before := c.appRequests(t)["PATCH"]
		_, err := waitApp(context.Background(), c.kube, "argocd", in, exactly(in.Commit), func(AppStatus) {})
		require.Error(t, err, "svc-a never reaches the commit")
		return c.appRequests(t)["PATCH"] - before
	}

	// The controller reconciles svc-b all along.
	busy, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for busy.Err() == nil {
			c.setApp(t, "svc-b", "old", "Healthy", "")
			time.Sleep(300 * time.Millisecond)
		}
	}()
	require.Zero(t, wait(), "no refresh asked of a controller that reconciles others")
	stop()
	<-done

	require.Positive(t, wait(), "a controller that shows no life is asked")
	obj, err := c.kube.Get(context.Background(), gvkApp, "argocd", "svc-a")
	require.NoError(t, err)
	require.Contains(t, obj.GetAnnotations(), annotationRefresh, "the probe is a refresh request")
}
