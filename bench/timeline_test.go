//go:build bench

package bench

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
)

// appWatch records every version of an env's Applications as a watch delivered it, with the
// time it arrived: the steps of a promotion's path to the millisecond, where Argo CD's own
// timestamps (operation state, reconciledAt) are to the second.
type appWatch struct {
	mu     sync.Mutex
	seen   []sighting
	cancel context.CancelFunc
	done   chan struct{}
}

// stop ends the recording (what it holds stays readable).
func (w *appWatch) stop() {
	w.cancel()
	<-w.done
}

type sighting struct {
	at   time.Time
	name string
	app  app
}

// watch starts recording; the recording stops with the test.
func (a apps) watch(t *testing.T) *appWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &appWatch{cancel: cancel, done: make(chan struct{})}
	ri := a.dc.Resource(appsGVR).Namespace("argocd")
	l, err := ri.List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	rv := l.GetResourceVersion()
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			wi, err := ri.Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			for ev := range wi.ResultChan() {
				u, ok := ev.Object.(*unstructured.Unstructured)
				if !ok {
					continue // an error event: the watch ends and starts again from rv
				}
				rv = u.GetResourceVersion()
				if ev.Type == watch.Added || ev.Type == watch.Modified {
					w.mu.Lock()
					w.seen = append(w.seen, sighting{time.Now(), u.GetName(), appOf(u)})
					w.mu.Unlock()
				}
			}
			wi.Stop()
		}
	}()
	t.Cleanup(w.stop)
	return w
}

// milestones are when the watch first showed an Application's steps towards a commit.
type milestones struct {
	// Asked: the refresh annotation there.
	Asked time.Time
	// OpStarted: an operation Running; OpFinished: the operation of commit Succeeded.
	OpStarted, OpFinished time.Time
	// Healthy: Synced at commit and Healthy, running image (when image is set).
	Healthy time.Time
}

// milestones reads name's steps towards commit (any commit: "") from the recording, from
// since on.
func (w *appWatch) milestones(name, commit, image string, since time.Time) milestones {
	w.mu.Lock()
	defer w.mu.Unlock()
	var m milestones
	for _, s := range w.seen {
		if s.name != name || s.at.Before(since) {
			continue
		}
		a := s.app
		if m.Asked.IsZero() && a.RefreshAsked {
			m.Asked = s.at
		}
		if m.OpStarted.IsZero() && a.OpPhase == "Running" {
			m.OpStarted = s.at
		}
		if !m.OpStarted.IsZero() && m.OpFinished.IsZero() && a.OpPhase == "Succeeded" && (commit == "" || a.OpRevision == commit) {
			m.OpFinished = s.at
		}
		if m.Healthy.IsZero() && (commit == "" || a.Revision == commit) && a.Sync == "Synced" && a.Health == "Healthy" && (image == "" || imageRunning(a, image)) {
			m.Healthy = s.at
		}
	}
	return m
}

// reached reads name's steps towards running image from the recording, from since on, at
// whatever commit: in a wave, the app may sync to a later commit of the same group, or of a
// later group, that still pins image.
func (w *appWatch) reached(name, image string, since time.Time) milestones {
	return w.milestones(name, "", image, since)
}

// argoWork is what Argo CD was asked to do and did during a wave, from the watch: refreshes
// requested (the annotation appearing on an Application that had none) and sync operations
// started, of the env's app-of-apps and of its apps together.
type argoWork struct {
	RootRefreshes int `json:"rootRefreshes"`
	RootSyncs     int `json:"rootSyncs"`
	AppRefreshes  int `json:"appRefreshes"`
	AppSyncs      int `json:"appSyncs"`
}

// work counts argoWork in the recording; root names the app-of-apps.
func (w *appWatch) work(root string) argoWork {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out argoWork
	last := map[string]app{}
	for _, s := range w.seen {
		prev, known := last[s.name]
		last[s.name] = s.app
		if !known {
			continue // the watch's first version of it: nothing to compare with
		}
		asked := s.app.RefreshAsked && !prev.RefreshAsked
		synced := s.app.OpPhase == "Running" && prev.OpPhase != "Running"
		if s.name == root {
			out.RootRefreshes += b2i(asked)
			out.RootSyncs += b2i(synced)
		} else {
			out.AppRefreshes += b2i(asked)
			out.AppSyncs += b2i(synced)
		}
	}
	return out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// waveSteps are the steps of one promotion of a wave, in their order.
var waveSteps = []string{
	"idp: run start → its health wait starts (plan, lock, the Git write among the wave's)",
	"Argo CD: → the app's sync operation starts (app-of-apps refresh and sync, the app's turn in the controller's queue, its refresh)",
	"Argo CD: the app's sync operation",
	"cluster + Argo CD: → Synced and Healthy",
	"idp: → its health wait completed (the wait sees it, judges the commit, reports)",
	"idp: → run closed (the workflow's last tasks)",
}

// waveMarks are one promotion's steps (waveSteps), or false when the watch missed one.
func waveMarks(start, handover time.Time, m milestones, waited, closed time.Time) ([]time.Duration, bool) {
	marks := []time.Time{start, handover, m.OpStarted, m.OpFinished, m.Healthy, waited, closed}
	out := make([]time.Duration, len(waveSteps))
	for i := range waveSteps {
		if marks[i].IsZero() || marks[i+1].Before(marks[i]) {
			return nil, false
		}
		out[i] = marks[i+1].Sub(marks[i])
	}
	return out, true
}

// syncTime is how long the operation ran as the watch saw it, and whether it saw both ends.
func (m milestones) syncTime() (time.Duration, bool) {
	if m.OpStarted.IsZero() || m.OpFinished.IsZero() {
		return 0, false
	}
	return m.OpFinished.Sub(m.OpStarted), true
}

// pathSteps are the steps of a lead-time run in their order, each named by what happens in
// it and whose time it is.
var pathSteps = []string{
	"idp: run start → its first health wait starts (plan, lock, the Git write)",
	"idp: → the app-of-apps' refresh requested (a merge patch)",
	"Argo CD: app-of-apps refresh → its sync operation starts (Git fetch, render of the env's Applications, diff, auto-sync)",
	"Argo CD: app-of-apps sync operation (applies the app's new definition)",
	"Argo CD: → app sync operation starts (the app's refresh: Git fetch, Helm render, diff; auto-sync)",
	"Argo CD: app sync operation (applies the Deployment)",
	"cluster + Argo CD: → app Synced and Healthy (rollout, health assessment)",
	"idp: → run closed (the wait sees it, the workflow ends)",
}

// path is one lead-time run's steps (pathSteps) from the marks the history and the watch
// gave, or false when the watch missed one or they are out of order (then the run is left
// out of the table, and the marks logged).
func path(start, handover time.Time, root, app milestones, closed time.Time) ([]time.Duration, []time.Time, bool) {
	marks := []time.Time{start, handover, root.Asked, root.OpStarted, root.OpFinished, app.OpStarted, app.OpFinished, app.Healthy, closed}
	out := make([]time.Duration, len(pathSteps))
	for i := range pathSteps {
		if marks[i].IsZero() || marks[i+1].Before(marks[i]) {
			return nil, marks, false
		}
		out[i] = marks[i+1].Sub(marks[i])
	}
	return out, marks, true
}
