package argocd

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/alexpermiakov/idp/internal/config"
)

// resourcesFinalizer makes Argo CD delete an Application's resources before the Application
// itself goes: workloads, and with them their load balancers, leave before the cluster does.
const resourcesFinalizer = "resources-finalizer.argocd.argoproj.io"

// destroyManager owns the finalizers a teardown adds.
const destroyManager = "idp-destroy"

// UninstallInput asks to remove Argo CD, and every Application it runs, from one env.
type UninstallInput struct {
	Snapshot config.Snapshot `json:"snapshot"`
}

// UninstallOutput says what the removal took away; a rerun finds nothing and says so.
type UninstallOutput struct {
	// Apps are the Applications deleted (their resources first, by Argo CD's finalizer).
	Apps []string `json:"apps,omitempty"`
	// Removed are the install's cluster objects deleted: the namespace (with everything in
	// it), cluster roles and bindings, CRDs.
	Removed []string `json:"removed,omitempty"`
	// AlreadyGone says nothing of Argo CD was left to remove.
	AlreadyGone bool `json:"alreadyGone,omitempty"`
	// SharedWith names the base env whose cluster a preview runs in (the sandbox's previews):
	// only the preview's app-of-apps was deleted, without its resources, which are the base's
	// Applications too; Argo CD stays.
	SharedWith string `json:"sharedWith,omitempty"`
}

// UninstallArgoCD mirrors InstallArgoCD: it deletes the env's Applications, the app-of-apps
// first so it cannot bring its children back, each with Argo CD's resources finalizer so the
// workloads go before the Application does, and waits until they are gone (bounded by the
// env's Argo CD timeout). Then it deletes what the install manifest put in the cluster: the
// Argo CD namespace with everything in it, the cluster roles and bindings, the CRDs.
// Already-gone objects are fine.
func (a *Activities) UninstallArgoCD(ctx context.Context, in UninstallInput) (UninstallOutput, error) {
	env, err := envOf(&in.Snapshot)
	if err != nil {
		return UninstallOutput{}, err
	}
	b, err := a.readManifest(ctx, env.ArgoCD.InstallManifest)
	if err != nil {
		return UninstallOutput{}, err
	}
	objs, err := decode(b)
	if err != nil {
		return UninstallOutput{}, fmt.Errorf("the Argo CD install manifest %s: %w", env.ArgoCD.InstallManifest, err)
	}
	k, err := a.kubeFor(ctx, env)
	if err != nil {
		return UninstallOutput{}, err
	}
	timeout := env.ArgoCD.Timeout.Std()
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	if p := env.Preview; p != nil {
		out, shared, err := uninstallSharedPreview(ctx, k, env.ArgoCD.Namespace, p, env.ArgoCD.AppOfApps)
		if shared || err != nil {
			return out, classifyKube(err, env.Name)
		}
	}
	out, err := uninstall(ctx, k, env.ArgoCD.Namespace, objs, timeout)
	return out, classifyKube(err, env.Name)
}

// uninstallSharedPreview handles a preview in its base env's cluster, which the base's
// app-of-apps being there shows (the sandbox runs previews so; on AWS each has its own
// cluster k8s-pr-<N>): its app-of-apps goes without the resources finalizer, since what it
// manages the base's app-of-apps manages too, and Argo CD stays for the base.
func uninstallSharedPreview(ctx context.Context, k kube, ns string, p *config.Preview, appOfApps string) (UninstallOutput, bool, error) {
	shared, err := sharedBase(ctx, k, &config.Environment{Preview: p, ArgoCD: config.ArgoCD{Namespace: ns}})
	if err != nil || shared == "" {
		return UninstallOutput{}, false, err
	}
	out := UninstallOutput{SharedWith: shared}
	found, err := k.Delete(ctx, gvkApp, ns, appOfApps)
	if err != nil {
		return out, true, fmt.Errorf("deleting Application %s: %w", appOfApps, err)
	}
	if found {
		out.Apps = []string{appOfApps}
	} else {
		out.AlreadyGone = true
	}
	return out, true, nil
}

func uninstall(ctx context.Context, k kube, ns string, manifest []*unstructured.Unstructured, timeout time.Duration) (UninstallOutput, error) {
	var out UninstallOutput
	apps, err := removeApps(ctx, k, ns, timeout)
	out.Apps = apps
	if err != nil {
		return out, err
	}
	nsObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": ns}}}
	// The namespace takes its objects with it; then what lives outside it, in the reverse
	// of the install's order (CRDs last).
	var cluster []*unstructured.Unstructured
	for _, o := range manifest {
		if !namespaced(o) && o.GetKind() != "Namespace" {
			cluster = append(cluster, o)
		}
	}
	sort.SliceStable(cluster, func(i, j int) bool { return applyOrder(cluster[i]) > applyOrder(cluster[j]) })
	for _, o := range append([]*unstructured.Unstructured{nsObj}, cluster...) {
		cur, err := k.Get(ctx, o.GroupVersionKind(), "", o.GetName())
		if err != nil {
			return out, err
		}
		if cur == nil || cur.GetDeletionTimestamp() != nil {
			continue // gone, or going (a namespace empties itself first)
		}
		found, err := k.Delete(ctx, o.GroupVersionKind(), "", o.GetName())
		if err != nil {
			return out, fmt.Errorf("deleting %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		if found {
			out.Removed = append(out.Removed, o.GetKind()+"/"+o.GetName())
		}
	}
	out.AlreadyGone = len(out.Apps) == 0 && len(out.Removed) == 0
	return out, nil
}

// removeApps deletes the Applications in ns, roots (the app-of-apps) first, and waits until
// Argo CD's finalizers let them go. It returns the names of those it deleted.
func removeApps(ctx context.Context, k kube, ns string, timeout time.Duration) ([]string, error) {
	crd, err := k.Get(ctx, gvkCRD, "", "applications.argoproj.io")
	if err != nil || crd == nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var deleted []string
	for _, rootsOnly := range []bool{true, false} {
		apps, err := k.List(ctx, gvkApp, ns)
		if err != nil {
			return deleted, err
		}
		var names []string
		for _, app := range apps {
			if rootsOnly && trackedBy(&app) != "" {
				continue
			}
			if err := deleteApp(ctx, k, &app); err != nil {
				return deleted, err
			}
			names = append(names, app.GetName())
		}
		if err := waitGone(ctx, k, ns, names); err != nil {
			return deleted, err
		}
		deleted = append(deleted, names...)
	}
	slices.Sort(deleted)
	return deleted, nil
}

// trackedBy names the Application that manages app (an app-of-apps), or "".
func trackedBy(app *unstructured.Unstructured) string {
	if id := app.GetAnnotations()["argocd.argoproj.io/tracking-id"]; id != "" {
		owner, _, _ := strings.Cut(id, ":")
		return owner
	}
	return app.GetLabels()["app.kubernetes.io/instance"]
}

// deleteApp adds the resources finalizer when app lacks it, then deletes app.
func deleteApp(ctx context.Context, k kube, app *unstructured.Unstructured) error {
	if app.GetDeletionTimestamp() == nil && !slices.Contains(app.GetFinalizers(), resourcesFinalizer) {
		patch := &unstructured.Unstructured{Object: map[string]any{"apiVersion": app.GetAPIVersion(), "kind": app.GetKind(),
			"metadata": map[string]any{"name": app.GetName(), "namespace": app.GetNamespace(), "finalizers": []any{resourcesFinalizer}}}}
		if _, err := k.Apply(ctx, patch, destroyManager); err != nil {
			return err
		}
	}
	if _, err := k.Delete(ctx, gvkApp, app.GetNamespace(), app.GetName()); err != nil {
		return fmt.Errorf("deleting Application %s: %w", app.GetName(), err)
	}
	return nil
}

// waitGone polls until none of the named Applications exists, heartbeating who still waits.
func waitGone(ctx context.Context, k kube, ns string, names []string) error {
	b := backoff{next: 200 * time.Millisecond, max: 3 * time.Second}
	for {
		var left []string
		for _, n := range names {
			app, err := k.Get(ctx, gvkApp, ns, n)
			if err != nil {
				return err
			}
			if app != nil {
				left = append(left, n)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, "waiting for the finalizers of "+strings.Join(left, ", "))
		}
		if err := b.wait(ctx); err != nil {
			return fmt.Errorf("the Applications %s still wait for Argo CD's finalizer %s (is the application controller running?): %w",
				strings.Join(left, ", "), resourcesFinalizer, err)
		}
	}
}
