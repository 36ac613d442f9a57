package argocd

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/alexpermiakov/idp/internal/fail"
)

// fieldManager owns what idp applies; settingsManager owns idp's settings inside objects the
// install manifest also applies, so neither apply takes fields away from the other.
const (
	fieldManager    = "idp"
	settingsManager = "idp-settings"
)

// kube is what installing and waiting need from a cluster.
type kube interface {
	// Apply server-side applies obj and reports whether the object changed.
	Apply(ctx context.Context, obj *unstructured.Unstructured, manager string) (changed bool, err error)
	// Get returns the object, or nil when it does not exist.
	Get(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, error)
	// List returns the objects of a kind in a namespace.
	List(ctx context.Context, gvk schema.GroupVersionKind, namespace string) ([]unstructured.Unstructured, error)
	// Refresh forgets cached API discovery, after CRDs were added.
	Refresh()
	// Delete deletes the object and reports whether it was there; a kind the cluster does
	// not serve counts as not there.
	Delete(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (found bool, err error)
	// Annotate sets annotations on an existing object, as manager, in one request, and
	// reports whether the object was there: a missing one is left missing.
	Annotate(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string, annotations map[string]string, manager string) (found bool, err error)
}

// dynamicKube is kube over client-go's dynamic client.
type dynamicKube struct {
	dyn     dynamic.Interface
	mapper  *restmapper.DeferredDiscoveryRESTMapper
	watches watches
	refreshes
}

// refreshLog remembers when this process last set an object's refresh annotation anew.
type refreshLog interface {
	refreshedAt(namespace, name string) time.Time
	refreshed(namespace, name string, at time.Time)
}

// refreshes is a refreshLog.
type refreshes struct {
	mu sync.Mutex
	at map[string]time.Time // namespace/name → when
}

func (r *refreshes) refreshedAt(namespace, name string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.at[namespace+"/"+name]
}

func (r *refreshes) refreshed(namespace, name string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at == nil {
		r.at = map[string]time.Time{}
	}
	if at.After(r.at[namespace+"/"+name]) {
		r.at[namespace+"/"+name] = at
	}
}

func newKube(rc *rest.Config) (*dynamicKube, error) {
	rc = rest.CopyConfig(rc)
	// An install reads and applies each of Argo CD's ~60 objects (three requests each): a
	// burst that covers them all keeps client-side throttling from pacing a no-change rerun
	// (kubectl allows the same burst).
	rc.QPS, rc.Burst = 100, 300
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return nil, err
	}
	return &dynamicKube{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

func (k *dynamicKube) Refresh() { k.mapper.Reset() }

func (k *dynamicKube) resource(gvk schema.GroupVersionKind, namespace string) (dynamic.ResourceInterface, error) {
	m, err := k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("the cluster does not serve %s: %w", gvk, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return k.dyn.Resource(m.Resource).Namespace(namespace), nil
	}
	return k.dyn.Resource(m.Resource), nil
}

func (k *dynamicKube) Apply(ctx context.Context, obj *unstructured.Unstructured, manager string) (bool, error) {
	ri, err := k.resource(obj.GroupVersionKind(), obj.GetNamespace())
	if err != nil {
		return false, err
	}
	before, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return false, err
	}
	after, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: manager, Force: true})
	if err != nil {
		return false, fmt.Errorf("applying %s %s: %w", obj.GetKind(), obj.GetName(), err)
	}
	return before == nil || !equality.Semantic.DeepEqual(content(before), content(after)), nil
}

// content is what an apply can change: the object without status, operations and server
// bookkeeping, which controllers rewrite all the time (Argo CD its Applications', for one).
func content(o *unstructured.Unstructured) map[string]any {
	c := o.DeepCopy().Object
	delete(c, "status")
	delete(c, "operation") // Argo CD's own record of a sync it runs on an Application
	if md, ok := c["metadata"].(map[string]any); ok {
		for _, k := range []string{"resourceVersion", "managedFields", "generation", "uid", "creationTimestamp"} {
			delete(md, k)
		}
	}
	return c
}

func (k *dynamicKube) Get(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, error) {
	ri, err := k.resource(gvk, namespace)
	if err != nil {
		return nil, err
	}
	obj, err := ri.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return obj, err
}

func (k *dynamicKube) Delete(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (bool, error) {
	ri, err := k.resource(gvk, namespace)
	if meta.IsNoMatchError(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	err = ri.Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func (k *dynamicKube) Annotate(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string, annotations map[string]string, manager string) (bool, error) {
	ri, err := k.resource(gvk, namespace)
	if err != nil {
		return false, err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
	if err != nil {
		return false, err
	}
	// A merge patch, unlike an apply, never creates the object: a missing one is a 404.
	_, err = ri.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: manager})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func (k *dynamicKube) List(ctx context.Context, gvk schema.GroupVersionKind, namespace string) ([]unstructured.Unstructured, error) {
	ri, err := k.resource(gvk, namespace)
	if err != nil {
		return nil, err
	}
	l, err := ri.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// classifyKube turns the API server's answers a person must fix into non-retryable errors,
// by their status reason: the identity may not do this (Forbidden), or an object idp applies
// is not valid (Invalid: the bootstrap file, say). The rest, conflicts and unavailability
// among them, is retried; 401 too, since an EKS token expires and the retry makes a new one.
func classifyKube(err error, env string) error {
	switch {
	case err == nil:
		return nil
	case apierrors.IsForbidden(err):
		return fail.Wrap(fail.AccessDenied, err, "the Kubernetes API of %s", env)
	case apierrors.IsInvalid(err):
		return fail.Wrap(fail.Config, err, "the Kubernetes API of %s", env)
	}
	return err
}
