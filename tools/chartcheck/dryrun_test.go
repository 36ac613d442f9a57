package chartcheck

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/cli/values"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"
)

// cluster is the API server the dry runs go to.
type cluster struct {
	dc     dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
	warn   *warnings
}

// TestAPIServerAcceptsChart sends every object the chart renders, for each set of values,
// to a real kube-apiserver as a server-side apply with dryRun=All and strict field
// validation: the API server validates each one (schemas, defaulting, admission) and stores
// nothing. The namespace enforces and warns on the "restricted" Pod Security Standard, so the
// workers' pod template must pass it without a warning. The ServiceMonitor CRD is installed
// first (testdata/servicemonitor-crd.yaml). Then three objects the API server must refuse
// show that it does check.
func TestAPIServerAcceptsChart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver; not part of -short")
	}
	cfg, warn := startAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := newCluster(t, cfg, warn)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)

	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: namespace,
		Labels: map[string]string{
			"pod-security.kubernetes.io/enforce": "restricted",
			"pod-security.kubernetes.io/warn":    "restricted",
		},
	}}, metav1.CreateOptions{})
	require.NoError(t, err)
	c.installCRD(ctx, t, "testdata/servicemonitor-crd.yaml")

	cases := map[string]values.Options{
		"minimal": minimalValues(),
		"full":    fullValues(),
		"existing ConfigMap, PDB by maxUnavailable, no metrics": {
			ValueFiles: []string{"testdata/minimal-values.yaml"},
			Values:     []string{"config.existingConfigMap=platform-idp", "podDisruptionBudget.enabled=true", "metrics.enabled=false"},
		},
	}
	var full *Rendered
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			r := render(t, opts)
			if name == "full" {
				full = r
				require.NotNil(t, r.Find("ServiceMonitor", fullname), "the ServiceMonitor is rendered, so it is checked too")
			}
			for _, o := range r.Objects {
				if _, err := c.dryRunApply(ctx, o); err != nil {
					var b strings.Builder
					ToYAML(&b, o)
					t.Fatalf("the API server refused %s %s: %v\n%s", o.GetKind(), o.GetName(), err, b.String())
				}
				require.Empty(t, warn.take(), "the API server warned about %s %s", o.GetKind(), o.GetName())
			}
			// Dry run: nothing was stored.
			_, err := cs.AppsV1().Deployments(namespace).Get(ctx, fullname, metav1.GetOptions{})
			require.True(t, apierrors.IsNotFound(err), "the Deployment was stored: %v", err)
		})
	}
	require.NotNil(t, full)

	t.Run("the API server does check", func(t *testing.T) {
		// PodSecurity sees a container that may escalate privileges.
		d := full.Find("Deployment", fullname).DeepCopy()
		containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		unstructured.RemoveNestedField(containers[0].(map[string]any), "securityContext")
		require.NoError(t, unstructured.SetNestedSlice(d.Object, containers, "spec", "template", "spec", "containers"))
		_, err := c.dryRunApply(ctx, d)
		require.NoError(t, err)
		require.Contains(t, joined(warn.take()), `would violate PodSecurity "restricted:latest"`)

		// The CRD's schema refuses a field ServiceMonitor does not have, and a bad interval.
		sm := full.Find("ServiceMonitor", fullname).DeepCopy()
		require.NoError(t, unstructured.SetNestedField(sm.Object, "http", "spec", "scrapeProtocol"))
		_, err = c.dryRunApply(ctx, sm)
		require.ErrorContains(t, err, ".spec.scrapeProtocol: field not declared in schema")
		sm = full.Find("ServiceMonitor", fullname).DeepCopy()
		endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
		endpoints[0].(map[string]any)["interval"] = "soon"
		require.NoError(t, unstructured.SetNestedSlice(sm.Object, endpoints, "spec", "endpoints"))
		_, err = c.dryRunApply(ctx, sm)
		require.ErrorContains(t, err, "spec.endpoints[0].interval")

		// Built-in validation: a selector that does not match the pod template.
		d = full.Find("Deployment", fullname).DeepCopy()
		require.NoError(t, unstructured.SetNestedStringMap(d.Object, map[string]string{"app": "other"}, "spec", "selector", "matchLabels"))
		_, err = c.dryRunApply(ctx, d)
		require.ErrorContains(t, err, "`selector` does not match template `labels`")
		warn.take()
	})
}

func newCluster(t *testing.T, cfg *rest.Config, warn *warnings) *cluster {
	t.Helper()
	dc, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	require.NoError(t, err)
	return &cluster{dc: dc, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco)), warn: warn}
}

// dryRunApply sends o as a server-side apply with dryRun=All and fieldValidation=Strict, into
// the test's namespace when its kind is namespaced, and returns what the server would store.
func (c *cluster) dryRunApply(ctx context.Context, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	m, err := c.mapping(o.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(o.Object)
	if err != nil {
		return nil, err
	}
	var ri dynamic.ResourceInterface = c.dc.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = c.dc.Resource(m.Resource).Namespace(namespace)
	}
	force := true
	return ri.Patch(ctx, o.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
		FieldManager:    "chartcheck",
		Force:           &force,
		DryRun:          []string{metav1.DryRunAll},
		FieldValidation: metav1.FieldValidationStrict,
	})
}

// mapping finds the resource of a kind, rereading discovery once for a kind it does not
// know yet (a CRD just established).
func (c *cluster) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		c.mapper.Reset()
		m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	return m, err
}

// installCRD creates the CRD in file for real and waits until its kind is served.
func (c *cluster) installCRD(ctx context.Context, t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	crd := &unstructured.Unstructured{}
	require.NoError(t, yaml.Unmarshal(b, &crd.Object))
	gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	_, err = c.dc.Resource(gvr).Create(ctx, crd, metav1.CreateOptions{FieldValidation: metav1.FieldValidationStrict})
	require.NoError(t, err)
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	gvk := schema.GroupVersionKind{Group: group, Version: "v1", Kind: kind}
	require.Eventually(t, func() bool {
		_, err := c.mapping(gvk)
		return err == nil
	}, time.Minute, 250*time.Millisecond, "kind %s is not served after its CRD was created", gvk)
	c.warn.take()
}

func joined(list []string) string { return strings.Join(list, "\n") }
