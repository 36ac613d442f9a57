package argocd

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// watcher is a kube that can wake a wait when an object changes. A wait still polls, more
// slowly, and a kube without it (a test's fake) leaves the wait to its polls alone.
type watcher interface {
	// Changes returns a channel that receives (at most one pending) signal each time the
	// named object in namespace changes, and the function that stops the signals.
	Changes(gvk schema.GroupVersionKind, namespace, name string) (changed <-chan struct{}, stop func())
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
	w.wakeAll()
	got := false
	for ev := range wi.ResultChan() {
		if ev.Type == watch.Error {
			return got
		}
		got = true
		if o, ok := ev.Object.(metav1.Object); ok {
			w.wake(o.GetName())
		}
	}
	return got
}

func (w *sharedWatch) wake(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.listeners[name] {
		signal(ch)
	}
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
