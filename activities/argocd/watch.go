package argocd

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// watcher is a kube that can wake a wait when an object changes. A wait still polls, more
// slowly, and a kube without it (a test's fake) leaves the wait to its polls alone.
type watcher interface {
	// Changes returns a channel that receives (at most one pending) signal each time the
	// named object in namespace changes, and the function that stops the signals.
	Changes(gvk schema.GroupVersionKind, namespace, name string) (changed <-chan struct{}, stop func())
	// Latest is the object as a running watch of its kind and namespace last delivered it
	// (nil: deleted), shared and not to be modified; ok is false when no watch is open there
	// or it has not delivered the object yet, and the object must be read from the API.
	Latest(gvk schema.GroupVersionKind, namespace, name string) (obj *unstructured.Unstructured, ok bool)
	// LastReconciled is the latest status.reconciledAt a running watch of the kind and
	// namespace has delivered, of any object there; ok is false when no watch is open there.
	LastReconciled(gvk schema.GroupVersionKind, namespace string) (at time.Time, ok bool)
}

// watchKey names one shared watch: a kind in a namespace.
type watchKey struct {
	gvk       schema.GroupVersionKind
	namespace string
}

// sharedWatch is one watch of a kind in a namespace, shared by every wait on an object there:
// a hundred promotions waiting in one env cost one watch, not a hundred pollers. It runs while
// anyone listens and re-opens after the server closes it or the API goes away.
type sharedWatch struct {
	mu        sync.Mutex
	listeners map[string]map[chan struct{}]struct{} // object name → its listeners
	n         int
	stop      context.CancelFunc
	// latest holds each object's last version while the watch is open (nil: deleted): a
	// hundred waits woken by a change of their env's app-of-apps read it here, not each with
	// a GET of the same large object from the API server.
	latest map[string]*unstructured.Unstructured
	// reconciled is the latest status.reconciledAt among the versions delivered while open.
	reconciled time.Time
}

// watches holds a kube's running shared watches.
type watches struct {
	mu      sync.Mutex
	running map[watchKey]*sharedWatch
}

// Changes implements watcher.
func (k *dynamicKube) Changes(gvk schema.GroupVersionKind, namespace, name string) (<-chan struct{}, func()) {
	key := watchKey{gvk, namespace}
	ch := make(chan struct{}, 1)
	k.watches.mu.Lock()
	w := k.watches.running[key]
	if w == nil {
		ctx, cancel := context.WithCancel(context.Background())
		w = &sharedWatch{listeners: map[string]map[chan struct{}]struct{}{}, stop: cancel}
		if k.watches.running == nil {
			k.watches.running = map[watchKey]*sharedWatch{}
		}
		k.watches.running[key] = w
		go k.watch(ctx, key, w)
	}
	w.mu.Lock()
	if w.listeners[name] == nil {
		w.listeners[name] = map[chan struct{}]struct{}{}
	}
	w.listeners[name][ch] = struct{}{}
	w.n++
	w.mu.Unlock()
	k.watches.mu.Unlock()

	var once sync.Once
	return ch, func() {
		once.Do(func() {
			k.watches.mu.Lock()
			defer k.watches.mu.Unlock()
			w.mu.Lock()
			defer w.mu.Unlock()
			delete(w.listeners[name], ch)
			if len(w.listeners[name]) == 0 {
				delete(w.listeners, name)
			}
			if w.n--; w.n == 0 {
				w.stop()
				delete(k.watches.running, key)
			}
		})
	}
}

// Latest implements watcher.
func (k *dynamicKube) Latest(gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, bool) {
	k.watches.mu.Lock()
	w := k.watches.running[watchKey{gvk, namespace}]
	k.watches.mu.Unlock()
	if w == nil {
		return nil, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	o, ok := w.latest[name]
	return o, ok
}

// LastReconciled implements watcher.
func (k *dynamicKube) LastReconciled(gvk schema.GroupVersionKind, namespace string) (time.Time, bool) {
	k.watches.mu.Lock()
	w := k.watches.running[watchKey{gvk, namespace}]
	k.watches.mu.Unlock()
	if w == nil {
		return time.Time{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reconciled, w.latest != nil
}

// watch runs w until ctx ends, waking the listeners of each object that changes. A watch the
// server ends or refuses is opened again after a pause that grows while it keeps failing;
// every (re)opening wakes everyone, since a change may have been missed in between.
func (k *dynamicKube) watch(ctx context.Context, key watchKey, w *sharedWatch) {
	pause := backoff{next: 500 * time.Millisecond, max: 10 * time.Second}
	for ctx.Err() == nil {
		if k.watchOnce(ctx, key, w) {
			pause.next = 500 * time.Millisecond
			continue
		}
		if pause.wait(ctx) != nil {
			return
		}
	}
}

// watchOnce opens the watch and follows it until it ends; it reports whether it got anything.
func (k *dynamicKube) watchOnce(ctx context.Context, key watchKey, w *sharedWatch) bool {
	ri, err := k.resource(key.gvk, key.namespace)
	if err != nil {
		return false
	}
	wi, err := ri.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return false
	}
	defer wi.Stop()
	defer w.forget() // what it held is not kept up to date once it ends
	w.wakeAll()
	got := false
	for ev := range wi.ResultChan() {
		if ev.Type == watch.Error {
			return got
		}
		got = true
		if o, ok := ev.Object.(*unstructured.Unstructured); ok {
			w.saw(o, ev.Type == watch.Deleted)
		}
	}
	return got
}

// saw records the object's new version and wakes its listeners. A watch opened without a
// resource version delivers every existing object first, so latest fills as it opens.
func (w *sharedWatch) saw(o *unstructured.Unstructured, deleted bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.latest == nil {
		w.latest = map[string]*unstructured.Unstructured{}
	}
	if deleted {
		w.latest[o.GetName()] = nil
	} else {
		w.latest[o.GetName()] = o
		s, _, _ := unstructured.NestedString(o.Object, "status", "reconciledAt")
		if at, err := time.Parse(time.RFC3339, s); err == nil && at.After(w.reconciled) {
			w.reconciled = at
		}
	}
	for ch := range w.listeners[o.GetName()] {
		signal(ch)
	}
}

func (w *sharedWatch) forget() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.latest, w.reconciled = nil, time.Time{}
}

func (w *sharedWatch) wakeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, chs := range w.listeners {
		for ch := range chs {
			signal(ch)
		}
	}
}

// signal leaves one signal pending on ch: a listener that is busy finds it when it next waits.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
