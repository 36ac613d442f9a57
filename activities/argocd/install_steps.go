package argocd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sort"

	"go.temporal.io/sdk/activity"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/alexpermiakov/idp/internal/config"
)

// InstallProgress is InstallArgoCD's heartbeat: how far the install got and what it changed.
// A retry after an interruption (the Kubernetes API away, the worker gone) resumes after the
// last apply it records instead of starting over, and its output counts what every attempt
// changed. Plan fingerprints the ordered applies, so progress of another install is ignored.
type InstallProgress struct {
	Plan    string   `json:"plan"`
	Done    int      `json:"done"`
	Created []string `json:"created,omitempty"`
	Updated []string `json:"updated,omitempty"`
}

// installStep is one apply of an install; obj nil is argocd-secret's server key, decided when
// its turn comes (serverSecret).
type installStep struct {
	obj     *unstructured.Unstructured
	manager string
}

// installSteps orders an install: the namespace, the manifest (namespaces, CRDs, cluster-wide
// objects, the rest), idp's settings, the server key, then the app-of-apps.
func installSteps(ns string, manifest, settings, apps []*unstructured.Unstructured) []installStep {
	nsObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": ns}}}
	objs := append([]*unstructured.Unstructured{nsObj}, manifest...)
	for _, o := range objs {
		if o.GetNamespace() == "" && namespaced(o) {
			o.SetNamespace(ns)
		}
	}
	sort.SliceStable(objs, func(i, j int) bool { return applyOrder(objs[i]) < applyOrder(objs[j]) })
	var steps []installStep
	for _, o := range objs {
		steps = append(steps, installStep{o, fieldManager})
	}
	for _, o := range settings {
		steps = append(steps, installStep{o, settingsManager})
	}
	steps = append(steps, installStep{nil, settingsManager})
	for _, app := range apps {
		if app.GetNamespace() == "" {
			app.SetNamespace(ns)
		}
		steps = append(steps, installStep{app, fieldManager})
	}
	return steps
}

func planID(steps []installStep) string {
	h := sha256.New()
	for _, s := range steps {
		if s.obj == nil {
			h.Write([]byte("server key\n"))
			continue
		}
		h.Write([]byte(s.obj.GetAPIVersion() + " " + s.obj.GetKind() + " " + s.obj.GetNamespace() + "/" + s.obj.GetName() + " " + s.manager + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// install applies the steps, resuming after what the activity's last heartbeat records.
func install(ctx context.Context, k kube, env *config.Environment, manifest, apps []*unstructured.Unstructured) (InstallOutput, error) {
	var from InstallProgress
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &from) // an older attempt's other form: start over
	}
	return installFrom(ctx, k, env, manifest, apps, from, func(p InstallProgress) {
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, p)
		}
	})
}

func installFrom(ctx context.Context, k kube, env *config.Environment, manifest, apps []*unstructured.Unstructured,
	from InstallProgress, progress func(InstallProgress)) (InstallOutput, error) {
	ns := env.ArgoCD.Namespace
	steps := installSteps(ns, manifest, settings(env), apps)
	p := InstallProgress{Plan: planID(steps)}
	if from.Plan == p.Plan && from.Done <= len(steps) {
		p = from
	}
	out := InstallOutput{Resumed: p.Done}
	var crds []string
	for _, s := range steps[:p.Done] {
		if s.obj != nil && s.obj.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, s.obj.GetName())
		}
	}
	for i := p.Done; i < len(steps); i++ {
		o := steps[i].obj
		if o == nil {
			secret, err := serverSecret(ctx, k, ns)
			if err != nil {
				return out, err
			}
			o = secret
		}
		if o != nil {
			if applyOrder(o) > 1 && len(crds) > 0 {
				if err := waitEstablished(ctx, k, crds); err != nil {
					return out, err
				}
				crds = nil
			}
			if err := applyCounted(ctx, k, o, steps[i].manager, &p); err != nil {
				return out, err
			}
			if o.GetKind() == "CustomResourceDefinition" {
				crds = append(crds, o.GetName())
			}
		}
		p.Done = i + 1
		progress(p)
	}
	seen := map[string]bool{}
	for _, s := range steps {
		if s.obj != nil {
			seen[label(s.obj)] = true
		}
	}
	out.Objects = len(seen)
	out.Created, out.Updated = p.Created, p.Updated
	out.Changed = append(slices.Clone(p.Created), p.Updated...)
	return out, nil
}

// applyCounted applies o and counts it once: created when it was not there before this
// install, updated when it was and the apply changed it. An object found already there is
// never counted as created, even when an interrupted attempt of this install made it.
func applyCounted(ctx context.Context, k kube, o *unstructured.Unstructured, manager string, p *InstallProgress) error {
	before, err := k.Get(ctx, o.GroupVersionKind(), o.GetNamespace(), o.GetName())
	if err != nil {
		return err
	}
	changed, err := k.Apply(ctx, o, manager)
	if err != nil || !changed {
		return err
	}
	l := label(o)
	switch {
	case slices.Contains(p.Created, l), slices.Contains(p.Updated, l):
	case before == nil:
		p.Created = append(p.Created, l)
	default:
		p.Updated = append(p.Updated, l)
	}
	return nil
}

func label(o *unstructured.Unstructured) string { return o.GetKind() + "/" + o.GetName() }
