//go:build bench

package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

var appsGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

// app is what the harness reads of an Argo CD Application.
type app struct {
	Revision, Sync, Health string
	Images                 []string
	// OpStarted and OpFinished bound Argo CD's last sync operation (second resolution), of
	// OpRevision.
	OpStarted, OpFinished time.Time
	OpRevision            string
	// ReconciledAt is when the controller last compared the app with Git.
	ReconciledAt time.Time
	// OpPhase is the phase of the last operation (Running, Succeeded, ...); RefreshAsked says
	// the refresh annotation is there, not yet taken by the controller.
	OpPhase      string
	RefreshAsked bool
}

// runs says the app is Synced at commit and Healthy, running image.
func (a app) runs(commit, image string) bool {
	return a.Revision == commit && a.Sync == "Synced" && a.Health == "Healthy" && imageRunning(a, image)
}

// syncTime is how long Argo CD's own sync of commit took, when its last operation was that.
func (a app) syncTime(commit string) (time.Duration, bool) {
	if a.OpRevision != commit || a.OpStarted.IsZero() || a.OpFinished.IsZero() {
		return 0, false
	}
	return a.OpFinished.Sub(a.OpStarted), true
}

// apps reads Applications from an env's cluster.
type apps struct{ dc dynamic.Interface }

func (r *rig) apps(env string) apps {
	r.t.Helper()
	e, err := r.Cfg.Env(env)
	require.NoError(r.t, err)
	rc, err := clientcmd.BuildConfigFromFlags("", e.ArgoCD.Kubeconfig)
	require.NoError(r.t, err)
	rc.QPS, rc.Burst = 200, 400
	dc, err := dynamic.NewForConfig(rc)
	require.NoError(r.t, err)
	return apps{dc: dc}
}

// get reads one Application; an error (the API away a moment) is returned, not fatal.
func (a apps) get(name string) (app, error) {
	u, err := a.dc.Resource(appsGVR).Namespace("argocd").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return app{}, err
	}
	return appOf(u), nil
}

// all reads every Application, by name.
func (a apps) all() (map[string]app, error) {
	l, err := a.dc.Resource(appsGVR).Namespace("argocd").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]app{}
	for i := range l.Items {
		out[l.Items[i].GetName()] = appOf(&l.Items[i])
	}
	return out, nil
}

func appOf(u *unstructured.Unstructured) app {
	var a app
	a.Revision, _, _ = unstructured.NestedString(u.Object, "status", "sync", "revision")
	if a.Revision == "" { // a multi-source Application has one revision per source
		if revs, _, _ := unstructured.NestedStringSlice(u.Object, "status", "sync", "revisions"); len(revs) > 0 {
			a.Revision = revs[0]
		}
	}
	a.Sync, _, _ = unstructured.NestedString(u.Object, "status", "sync", "status")
	a.Health, _, _ = unstructured.NestedString(u.Object, "status", "health", "status")
	a.Images, _, _ = unstructured.NestedStringSlice(u.Object, "status", "summary", "images")
	started, _, _ := unstructured.NestedString(u.Object, "status", "operationState", "startedAt")
	finished, _, _ := unstructured.NestedString(u.Object, "status", "operationState", "finishedAt")
	reconciled, _, _ := unstructured.NestedString(u.Object, "status", "reconciledAt")
	a.ReconciledAt, _ = time.Parse(time.RFC3339, reconciled)
	a.OpStarted, _ = time.Parse(time.RFC3339, started)
	a.OpFinished, _ = time.Parse(time.RFC3339, finished)
	a.OpPhase, _, _ = unstructured.NestedString(u.Object, "status", "operationState", "phase")
	_, a.RefreshAsked = u.GetAnnotations()["argocd.argoproj.io/refresh"]
	a.OpRevision, _, _ = unstructured.NestedString(u.Object, "status", "operationState", "syncResult", "revision")
	if a.OpRevision == "" {
		if revs, _, _ := unstructured.NestedStringSlice(u.Object, "status", "operationState", "syncResult", "revisions"); len(revs) > 0 {
			a.OpRevision = revs[0]
		}
	}
	return a
}

// awaitRuns polls the Application every 50 ms until ok holds and returns when it first saw
// it; it fails after timeout with the last state.
func (a apps) awaitRuns(t *testing.T, name string, timeout time.Duration, ok func(app) bool) (time.Time, app) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last app
	var lastErr error
	for time.Now().Before(deadline) {
		got, err := a.get(name)
		if err == nil && ok(got) {
			return time.Now(), got
		}
		last, lastErr = got, err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not there after %s; last: %+v (error %v)", name, timeout, last, lastErr)
	return time.Time{}, app{}
}

// imageRunning says whether one of the app's images is image (repo:tag@digest) or ends with
// its tag and digest.
func imageRunning(a app, image string) bool {
	for _, i := range a.Images {
		if i == image || strings.HasSuffix(i, image[strings.LastIndex(image, "/"):]) {
			return true
		}
	}
	return false
}
