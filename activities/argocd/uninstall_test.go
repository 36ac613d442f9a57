package argocd

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/alexpermiakov/idp/internal/config"
)

// playArgoCD stands in for Argo CD's application controller: once an Application is being
// deleted it drops the resources finalizer (as Argo CD does after deleting the resources),
// and records the order, and whether a child was already being deleted when its root went.
type playArgoCD struct {
	mu      sync.Mutex
	order   []string
	early   []string // children deleted while their root still stood
	stopped chan struct{}
}

func (p *playArgoCD) run(ctx context.Context, t *testing.T, c *testCluster) {
	gvr := schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}
	defer close(p.stopped)
	for ctx.Err() == nil {
		l, err := c.kube.dyn.Resource(gvr).Namespace("argocd").List(ctx, metav1.ListOptions{})
		if err == nil {
			names := map[string]bool{}
			for _, a := range l.Items {
				names[a.GetName()] = true
			}
			for _, a := range l.Items {
				if a.GetDeletionTimestamp() == nil {
					continue
				}
				p.mu.Lock()
				p.order = append(p.order, a.GetName())
				if root := trackedBy(&a); root != "" && names[root] {
					p.early = append(p.early, a.GetName())
				}
				p.mu.Unlock()
				_, err := c.kube.dyn.Resource(gvr).Namespace("argocd").Patch(ctx, a.GetName(), types.MergePatchType,
					[]byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
				if err != nil && ctx.Err() == nil {
					t.Logf("dropping the finalizer of %s: %v", a.GetName(), err)
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestUninstallAgainstAKubeAPIServer(t *testing.T) {
	c := startTestCluster(t)
	ctx := context.Background()
	app := func(name, root string) *unstructured.Unstructured {
		o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
			"metadata": map[string]any{"name": name, "namespace": "argocd"},
			"spec": map[string]any{"project": "default", "destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": name},
				"source": map[string]any{"repoURL": "https://github.com/alexpermiakov/idp.git", "path": "x", "targetRevision": "main"}}}}
		if root != "" {
			o.SetLabels(map[string]string{"app.kubernetes.io/instance": root})
		}
		return o
	}
	for _, o := range []*unstructured.Unstructured{app("dev-apps", ""), app("time-service-dev", "dev-apps"), app("version-service-dev", "dev-apps")} {
		_, err := c.kube.Apply(ctx, o, "test")
		require.NoError(t, err)
	}
	path, err := ModuleManifest()
	require.NoError(t, err)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	manifest, err := decode(b)
	require.NoError(t, err)

	pctx, stop := context.WithCancel(ctx)
	p := &playArgoCD{stopped: make(chan struct{})}
	go p.run(pctx, t, c)
	out, err := uninstall(ctx, c.kube, "argocd", manifest, time.Minute)
	stop()
	<-p.stopped
	require.NoError(t, err)
	require.Equal(t, []string{"dev-apps", "time-service-dev", "version-service-dev"}, out.Apps)
	require.Equal(t, "dev-apps", p.order[0], "the app-of-apps goes first, so it cannot bring its children back")
	require.Empty(t, p.early, "no child is deleted while its root stands")
	require.Equal(t, []string{"Namespace/argocd", "CustomResourceDefinition/applications.argoproj.io"}, out.Removed,
		"what the install put in the cluster goes; what the test cluster never had is not there to remove")
	require.False(t, out.AlreadyGone)

	require.Eventually(t, func() bool {
		crd, err := c.kube.Get(ctx, gvkCRD, "", "applications.argoproj.io")
		return err == nil && crd == nil
	}, time.Minute, 200*time.Millisecond, "the Application CRD is gone")
	again, err := uninstall(ctx, c.kube, "argocd", manifest, time.Minute)
	require.NoError(t, err)
	require.Equal(t, UninstallOutput{AlreadyGone: true}, again, "a rerun finds nothing and says so")
}

func TestUninstallWaitsForFinalizersAndSaysWhich(t *testing.T) {
	k := newFakeKube()
	k.servesCRDs["Application"] = true
	_, _ = k.Apply(context.Background(), &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apiextensions.k8s.io/v1",
		"kind": "CustomResourceDefinition", "metadata": map[string]any{"name": "applications.argoproj.io"}}}, "test")
	stuck := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": "dev-apps", "namespace": "argocd"}, "spec": map[string]any{}}}
	_, _ = k.Apply(context.Background(), stuck, "test")
	keep := &stickyKube{fakeKube: k}
	_, err := uninstall(context.Background(), keep, "argocd", nil, 300*time.Millisecond)
	require.ErrorContains(t, err, "the Applications dev-apps still wait for Argo CD's finalizer resources-finalizer.argocd.argoproj.io")
}

// stickyKube never lets an Application go, as a cluster whose Argo CD is not running.
type stickyKube struct{ *fakeKube }

func (s *stickyKube) Delete(_ context.Context, gvk schema.GroupVersionKind, ns, name string) (bool, error) {
	return s.objs[key(gvk, ns, name)] != nil, nil
}

// A preview in its base's cluster (the sandbox's) loses only its app-of-apps, without the
// resources finalizer: the children are the base's too, and Argo CD stays for the base.
func TestUninstallOfAPreviewInItsBasesClusterKeepsTheBase(t *testing.T) {
	c := startTestCluster(t)
	ctx := context.Background()
	app := func(name string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
			"metadata": map[string]any{"name": name, "namespace": "argocd"},
			"spec": map[string]any{"project": "default", "destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "argocd"},
				"source": map[string]any{"repoURL": "https://github.com/alexpermiakov/idp.git", "path": "argocd/applications/dev", "targetRevision": "main"}}}}
	}
	for _, name := range []string{"dev-apps", "dev-pr-7-apps", "time-service"} {
		_, err := c.kube.Apply(ctx, app(name), "test")
		require.NoError(t, err)
	}
	p := &config.Preview{Base: "dev", PR: 7, BaseAppOfApps: "dev-apps"}
	out, shared, err := uninstallSharedPreview(ctx, c.kube, "argocd", p, "dev-pr-7-apps")
	require.NoError(t, err)
	require.True(t, shared)
	require.Equal(t, UninstallOutput{SharedWith: "dev", Apps: []string{"dev-pr-7-apps"}}, out)
	for _, name := range []string{"dev-apps", "time-service"} {
		got, err := c.kube.Get(ctx, gvkApp, "argocd", name)
		require.NoError(t, err)
		require.NotNil(t, got, "%s stays", name)
	}
	crd, err := c.kube.Get(ctx, gvkCRD, "", "applications.argoproj.io")
	require.NoError(t, err)
	require.NotNil(t, crd, "Argo CD stays")

	again, shared, err := uninstallSharedPreview(ctx, c.kube, "argocd", p, "dev-pr-7-apps")
	require.NoError(t, err)
	require.True(t, shared)
	require.Equal(t, UninstallOutput{SharedWith: "dev", AlreadyGone: true}, again, "a rerun says it was gone")

	// In a cluster of its own (no base app-of-apps there) the full uninstall runs instead.
	_, err = c.kube.Delete(ctx, gvkApp, "argocd", "dev-apps")
	require.NoError(t, err)
	_, shared, err = uninstallSharedPreview(ctx, c.kube, "argocd", p, "dev-pr-7-apps")
	require.NoError(t, err)
	require.False(t, shared)
}
