package argocd

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const driftManifest = testManifest + `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: argocd-server}
spec:
  template:
    spec:
      containers: [{name: argocd-server, image: quay.io/argoproj/argocd:v2.14.21}]
`

// installed is a fake cluster where install ran, with the objects checkInstall compares.
func installed(t *testing.T) (k *fakeKube, manifest, exact []*unstructured.Unstructured) {
	t.Helper()
	k = newFakeKube()
	ctx := context.Background()
	manifest, err := decode([]byte(driftManifest))
	require.NoError(t, err)
	apps, err := decode([]byte(testBootstrap))
	require.NoError(t, err)
	_, err = install(ctx, k, testEnv(), manifest, apps)
	require.NoError(t, err)
	return k, manifest, append(settings(testEnv()), apps...)
}

func TestCheckInstall(t *testing.T) {
	ctx := context.Background()
	t.Run("what install applied is no drift", func(t *testing.T) {
		k, manifest, exact := installed(t)
		drift, err := checkInstall(ctx, k, manifest, exact)
		require.NoError(t, err)
		require.Empty(t, drift)
		require.Len(t, k.applied, 14, "a check applies nothing")
	})
	t.Run("edits by hand are reported without values", func(t *testing.T) {
		k, manifest, exact := installed(t)
		applied := len(k.applied)
		delete(k.objs, key(gvkDeployment, "argocd", "argocd-repo-server"))
		server := k.objs[key(gvkDeployment, "argocd", "argocd-server")]
		require.NoError(t, unstructured.SetNestedSlice(server.Object,
			[]any{map[string]any{"name": "argocd-server", "image": "quay.io/argoproj/argocd:v2.13.0"}}, "spec", "template", "spec", "containers"))
		cm := k.objs["ConfigMap/argocd/argocd-cm"]
		require.NoError(t, unstructured.SetNestedField(cm.Object, "hand-set-value", "data", "timeout.reconciliation"))
		app := k.objs[key(gvkApp, "argocd", "dev-apps")]
		require.NoError(t, unstructured.SetNestedField(app.Object, "somewhere/else", "spec", "source", "path"))

		drift, err := checkInstall(ctx, k, manifest, exact)
		require.NoError(t, err)
		require.Equal(t, []string{
			"Deployment/argocd-repo-server is missing",
			"Deployment/argocd-server container argocd-server runs quay.io/argoproj/argocd:v2.13.0, the install applies quay.io/argoproj/argocd:v2.14.21",
			"ConfigMap/argocd-cm differs in data.timeout.reconciliation",
			"Application/dev-apps differs in spec.source.path",
		}, drift)
		require.NotContains(t, strings.Join(drift, "\n"), "hand-set-value")
		require.NotContains(t, strings.Join(drift, "\n"), "somewhere/else")
		require.Len(t, k.applied, applied, "a check applies nothing")
	})
	t.Run("an unreachable cluster is an error, not a clean report", func(t *testing.T) {
		k, manifest, exact := installed(t)
		k.err = context.DeadlineExceeded
		_, err := checkInstall(ctx, k, manifest, exact)
		require.Error(t, err)
	})
}

func TestDiffering(t *testing.T) {
	want := map[string]any{"a": 1, "b": map[string]any{"c": "x"}, "l": []any{"p", "q"}}
	require.Empty(t, differing(want, map[string]any{"a": int64(1), "b": map[string]any{"c": "x", "extra": 2}, "l": []any{"p", "q"}}, "spec"),
		"fields live adds (defaults) and number types are no drift")
	require.Equal(t, []string{"spec.a", "spec.b.c", "spec.l"},
		differing(want, map[string]any{"a": 2, "b": map[string]any{}, "l": []any{"p"}}, "spec"))
}
