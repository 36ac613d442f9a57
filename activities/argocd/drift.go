package argocd

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.temporal.io/sdk/activity"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// DriftOutput says how the Argo CD install differs from what InstallArgoCD applies, one
// short description per difference (kinds, names, images and keys; never a Secret's data or
// a setting's value).
type DriftOutput struct {
	Version string   `json:"version"`
	Drift   []string `json:"drift"`
}

// CheckArgoCD compares the env's Argo CD with what InstallArgoCD would apply at the commit:
// every object of the pinned install manifest, idp's settings and the app-of-apps must exist,
// the workloads must run the manifest's images (a changed version shows there), and idp's
// settings and the app-of-apps must say what idp applies. It only reads: a rerun of bootstrap
// puts things back.
func (a *Activities) CheckArgoCD(ctx context.Context, in InstallInput) (DriftOutput, error) {
	env, err := envOf(&in.Snapshot)
	if err != nil {
		return DriftOutput{}, err
	}
	manifest, apps, err := a.readObjects(ctx, env, in.Commit)
	if err != nil {
		return DriftOutput{}, err
	}
	k, err := a.kubeFor(ctx, env)
	if err != nil {
		return DriftOutput{}, err
	}
	ns := env.ArgoCD.Namespace
	for _, o := range manifest {
		if o.GetNamespace() == "" && namespaced(o) {
			o.SetNamespace(ns)
		}
	}
	for _, app := range apps {
		if app.GetNamespace() == "" {
			app.SetNamespace(ns)
		}
	}
	drift, err := checkInstall(ctx, k, manifest, append(settings(env), apps...))
	return DriftOutput{Version: env.ArgoCD.Version, Drift: drift}, classifyKube(err, env.Name)
}

// checkInstall reports the objects of manifest that are missing or run other images, and the
// objects of exact (idp's settings, the app-of-apps) that are missing or differ in a field
// idp sets. Fields others set (defaults, status, Argo CD's own) are not compared.
func checkInstall(ctx context.Context, k kube, manifest, exact []*unstructured.Unstructured) ([]string, error) {
	drift := []string{}
	for i, o := range manifest {
		live, err := k.Get(ctx, o.GroupVersionKind(), o.GetNamespace(), o.GetName())
		if err != nil {
			return nil, err
		}
		name := o.GetKind() + "/" + o.GetName()
		if live == nil {
			drift = append(drift, name+" is missing")
			continue
		}
		want, have := images(o), images(live)
		for c, img := range want {
			if have[c] != img {
				drift = append(drift, fmt.Sprintf("%s container %s runs %s, the install applies %s", name, c, orNone(have[c]), img))
			}
		}
		if activity.IsActivity(ctx) && i%20 == 0 {
			activity.RecordHeartbeat(ctx, fmt.Sprintf("checked %d of %d objects", i+1, len(manifest)))
		}
	}
	for _, o := range exact {
		live, err := k.Get(ctx, o.GroupVersionKind(), o.GetNamespace(), o.GetName())
		if err != nil {
			return nil, err
		}
		name := o.GetKind() + "/" + o.GetName()
		if live == nil {
			drift = append(drift, name+" is missing")
			continue
		}
		for _, f := range []string{"data", "spec"} {
			if diff := differing(o.Object[f], live.Object[f], f); len(diff) > 0 {
				drift = append(drift, fmt.Sprintf("%s differs in %s", name, strings.Join(diff, ", ")))
			}
		}
	}
	return drift, nil
}

// images maps a workload's containers (and init containers) to their images.
func images(o *unstructured.Unstructured) map[string]string {
	out := map[string]string{}
	for _, path := range [][]string{{"spec", "template", "spec", "containers"}, {"spec", "template", "spec", "initContainers"}} {
		cs, _, _ := unstructured.NestedSlice(o.Object, path...)
		for _, c := range cs {
			m, _ := c.(map[string]any)
			name, _ := m["name"].(string)
			img, _ := m["image"].(string)
			if name != "" {
				out[name] = img
			}
		}
	}
	return out
}

// differing lists the paths under path where want has a value live does not: live may add
// fields (defaults) but not change or drop want's. Only paths are returned, never values.
func differing(want, live any, path string) []string {
	switch w := want.(type) {
	case nil:
		return nil
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return []string{path}
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var out []string
		for _, k := range keys {
			out = append(out, differing(w[k], l[k], path+"."+k)...)
		}
		return out
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(w) {
			return []string{path}
		}
		for i := range w {
			if len(differing(w[i], l[i], path)) > 0 {
				return []string{path}
			}
		}
		return nil
	default:
		if !reflect.DeepEqual(normalize(want), normalize(live)) {
			return []string{path}
		}
		return nil
	}
}

// normalize makes numbers decoded from YAML (int) and from the API (int64, float64) compare.
func normalize(v any) any {
	switch n := v.(type) {
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case float32:
		return float64(n)
	}
	return v
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}
