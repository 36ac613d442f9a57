package chartcheck

import (
	"context"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/cli/values"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

const (
	chartDir  = "../../helm-charts/idp-worker"
	release   = "idp"
	namespace = "idp-system"
	// fullname names the objects: <release>-<chart>, since "idp" does not contain the
	// chart's name.
	fullname = "idp-idp-worker"
)

// minimalValues are the least a user gives, with the repository's own idp.yaml.
func minimalValues(set ...string) values.Options {
	return values.Options{
		ValueFiles: []string{"testdata/minimal-values.yaml"},
		FileValues: []string{"config.idpYaml=../../idp.yaml"},
		Values:     set,
	}
}

// fullValues switch every feature on.
func fullValues(set ...string) values.Options {
	return values.Options{ValueFiles: []string{"testdata/full-values.yaml"}, Values: set}
}

func render(t *testing.T, opts values.Options) *Rendered {
	t.Helper()
	r, err := Render(context.Background(), chartDir, release, namespace, opts)
	require.NoError(t, err)
	return r
}

// typed converts a rendered object to its Go type.
func typed[T any](t *testing.T, o *unstructured.Unstructured) *T {
	t.Helper()
	require.NotNil(t, o)
	var out T
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, &out, true),
		"%s %s has fields its Go type does not know", o.GetKind(), o.GetName())
	return &out
}

func deployment(t *testing.T, r *Rendered) *appsv1.Deployment {
	t.Helper()
	o := r.Find("Deployment", fullname)
	require.NotNil(t, o, "no Deployment %s among %v", fullname, r.Kinds())
	return typed[appsv1.Deployment](t, o)
}

// worker is the Deployment's one container.
func worker(t *testing.T, d *appsv1.Deployment) corev1.Container {
	t.Helper()
	cs := d.Spec.Template.Spec.Containers
	require.Len(t, cs, 1)
	require.Equal(t, "worker", cs[0].Name)
	return cs[0]
}

// env maps the container's variables by name, failing on a name given twice (the later
// would silently win).
func env(t *testing.T, c corev1.Container) map[string]corev1.EnvVar {
	t.Helper()
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		_, dup := out[e.Name]
		require.False(t, dup, "%s is set twice", e.Name)
		out[e.Name] = e
	}
	return out
}

// literal is a variable's plain value, failing when it is missing or comes from a reference.
func literal(t *testing.T, vars map[string]corev1.EnvVar, name string) string {
	t.Helper()
	v, ok := vars[name]
	require.True(t, ok, "%s is not set", name)
	require.Nil(t, v.ValueFrom, "%s comes from a reference", name)
	return v.Value
}

// fileSource finds which volume, and which key of it, serves the file at p in the container:
// the mount whose path is p's directory, and that volume's item mapped to p's base name.
func fileSource(t *testing.T, spec corev1.PodSpec, c corev1.Container, p string) (corev1.Volume, string) {
	t.Helper()
	dir, base := path.Dir(p), path.Base(p)
	for _, m := range c.VolumeMounts {
		if path.Clean(m.MountPath) != dir {
			continue
		}
		require.Empty(t, m.SubPath, "mount %s uses subPath", m.Name)
		for _, v := range spec.Volumes {
			if v.Name != m.Name {
				continue
			}
			var items []corev1.KeyToPath
			switch {
			case v.Secret != nil:
				items = v.Secret.Items
			case v.ConfigMap != nil:
				items = v.ConfigMap.Items
			default:
				t.Fatalf("%s is on volume %s, which is neither a Secret nor a ConfigMap", p, v.Name)
			}
			for _, it := range items {
				if it.Path == base {
					return v, it.Key
				}
			}
			t.Fatalf("volume %s mounted at %s has no item for %s (items %v)", v.Name, dir, base, items)
		}
		t.Fatalf("mount %s names no volume", m.Name)
	}
	t.Fatalf("no volume is mounted at %s, so %s does not exist in the container", dir, p)
	return corev1.Volume{}, ""
}

// selects reports whether a matchLabels selector picks the given labels.
func selects(sel map[string]string, l map[string]string) bool {
	return len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(l))
}

// nestedMap reads a string map at fields of an unstructured object.
func nestedMap(t *testing.T, o *unstructured.Unstructured, fields ...string) map[string]string {
	t.Helper()
	m, found, err := unstructured.NestedStringMap(o.Object, fields...)
	require.NoError(t, err)
	require.True(t, found, "%s %s has no %s", o.GetKind(), o.GetName(), strings.Join(fields, "."))
	return m
}
