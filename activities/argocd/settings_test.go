package argocd

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/argoproj/argo-cd/v2/util/argo/normalizers"
	argosettings "github.com/argoproj/argo-cd/v2/util/settings"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"
)

// Argo CD's application controller, reading the argocd-cm idp installs, sees an Application
// whose status, operation or refresh request changed as unchanged (so its app-of-apps is not
// reconciled), and one whose spec changed as changed (so the app-of-apps still notices).
// It hashes a tracked resource after the normalizer built from these same settings.
func TestSettingsKeepTheAppOfAppsOffItsApplicationsStatus(t *testing.T) {
	var data map[string]string
	for _, o := range settings(testEnv()) {
		if o.GetKind() == "ConfigMap" && o.GetName() == "argocd-cm" {
			d, _, err := unstructured.NestedStringMap(o.Object, "data")
			require.NoError(t, err)
			data = d
		}
	}
	require.NotNil(t, data, "settings include argocd-cm")
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "argocd", Labels: map[string]string{"app.kubernetes.io/part-of": "argocd"}}
	}
	kube := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: meta("argocd-cm"), Data: data}, &corev1.Secret{ObjectMeta: meta("argocd-secret")})
	mgr := argosettings.NewSettingsManager(context.Background(), kube, "argocd")
	on, err := mgr.GetIsIgnoreResourceUpdatesEnabled()
	require.NoError(t, err)
	require.True(t, on, "ignoring resource updates is on")
	overrides, err := mgr.GetIgnoreResourceUpdatesOverrides()
	require.NoError(t, err)
	norm, err := normalizers.NewIgnoreNormalizer(nil, overrides, normalizers.IgnoreNormalizerOpts{})
	require.NoError(t, err)
	seen := func(app map[string]any) string {
		t.Helper()
		u := &unstructured.Unstructured{Object: app}
		require.NoError(t, norm.Normalize(u))
		b, err := json.Marshal(u.Object)
		require.NoError(t, err)
		return string(b)
	}
	app := func(image, syncStatus string, refresh bool, operation bool) map[string]any {
		annotations := map[string]any{"note": "kept"}
		if refresh {
			annotations["argocd.argoproj.io/refresh"] = "normal"
		}
		o := map[string]any{
			"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
			"metadata": map[string]any{"name": "time-service", "namespace": "argocd", "annotations": annotations},
			"spec": map[string]any{"source": map[string]any{"helm": map[string]any{"valuesObject": map[string]any{
				"app": map[string]any{"image": image}}}}},
			"status": map[string]any{"sync": map[string]any{"status": syncStatus}, "reconciledAt": "2026-12-02T04:00:00Z"},
		}
		if operation {
			o["operation"] = map[string]any{"sync": map[string]any{"revision": "abc"}}
		}
		return o
	}
	before := seen(app("idp/time:sha-1111111", "Synced", false, false))
	require.Equal(t, before, seen(app("idp/time:sha-1111111", "OutOfSync", true, true)),
		"status, operation and refresh request are not changes for the app-of-apps")
	require.NotEqual(t, before, seen(app("idp/time:sha-2222222", "Synced", false, false)),
		"a new image in the spec is a change")
}
