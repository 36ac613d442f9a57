package argocd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/metrics"
)

// ErrNotHealthy is the failure type when Argo CD or an Application is not Synced and Healthy
// in time.
const ErrNotHealthy = "ArgoCDNotHealthy"

// WaitInput names the env whose Argo CD to wait for.
type WaitInput struct {
	Snapshot config.Snapshot `json:"snapshot"`
}

// AppStatus is one Application's sync and health as Argo CD reports them.
type AppStatus struct {
	Name     string `json:"name"`
	Sync     string `json:"sync"`
	Health   string `json:"health"`
	Revision string `json:"revision,omitempty"`
	// Message is Argo CD's own explanation when the app is not Synced and Healthy.
	Message string `json:"message,omitempty"`
	// Note, in a wait's heartbeat, says why the wait cannot tell (Argo CD unreachable since
	// …); starter status shows it.
	Note string `json:"note,omitempty"`
}

// WaitOutput lists the Applications, all Synced and Healthy.
type WaitOutput struct {
	Apps []AppStatus `json:"apps"`
}

// WaitProgress is the heartbeat: what is still pending and why.
type WaitProgress struct {
	Pending []string `json:"pending"`
}

// WaitArgoCD waits until the Argo CD components are ready and the env's app-of-apps and every
// Application are Synced and Healthy. It polls with backoff inside the activity, heartbeats
// what is pending and why, and fails after the env's timeout with that list.
func (a *Activities) WaitArgoCD(ctx context.Context, in WaitInput) (WaitOutput, error) {
	k, env, err := a.cluster(ctx, &in.Snapshot)
	if err != nil {
		return WaitOutput{}, err
	}
	start := time.Now()
	root := env.ArgoCD.AppOfApps
	if shared, err := sharedBase(ctx, k, env); err != nil {
		return WaitOutput{}, classifyKube(err, env.Name)
	} else if shared != "" {
		root = env.Preview.BaseAppOfApps // a preview in its base's cluster installed none of its own
	}
	out, err := waitHealthy(ctx, k, env.ArgoCD.Namespace, root, env.ArgoCD.Timeout.Std(), func(p []string) {
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, WaitProgress{Pending: p})
		}
	})
	metrics.Wait(ctx, env.Name, env.ArgoCD.AppOfApps, waitOutcome(err), start)
	return out, classifyKube(err, env.Name)
}

func waitHealthy(ctx context.Context, k kube, ns, root string, timeout time.Duration, progress func([]string)) (WaitOutput, error) {
	deadline := time.Now().Add(timeout)
	b := backoff{next: 500 * time.Millisecond, max: 5 * time.Second}
	for {
		apps, pending, err := check(ctx, k, ns, root)
		if err != nil {
			return WaitOutput{}, err
		}
		if len(pending) == 0 {
			return WaitOutput{Apps: apps}, nil
		}
		progress(pending)
		if time.Now().After(deadline) {
			return WaitOutput{Apps: apps}, fail.New(ErrNotHealthy, "Argo CD in %s not Synced and Healthy after %s: %s",
				ns, timeout, strings.Join(pending, "; "))
		}
		if err := b.wait(ctx); err != nil {
			return WaitOutput{Apps: apps}, err
		}
	}
}

// waitOutcome names how a wait for Argo CD ended, for idp_argocd_wait_seconds.
func waitOutcome(err error) string {
	switch {
	case err == nil:
		return metrics.Healthy
	case fail.Is(err, ErrDegraded):
		return metrics.Degraded
	case fail.Is(err, ErrHealthTimeout), fail.Is(err, ErrNotHealthy), fail.Is(err, ErrNotApplied):
		return metrics.TimedOut
	case fail.Is(err, ErrReplaced):
		return metrics.Replaced
	case errors.Is(err, context.Canceled):
		return metrics.Canceled
	}
	return metrics.Failed
}

// check reads the components and Applications once and says what is not yet ready.
func check(ctx context.Context, k kube, ns, root string) ([]AppStatus, []string, error) {
	var pending []string
	for _, gvk := range []struct {
		kind  string
		ready func(*unstructured.Unstructured) bool
	}{{"Deployment", deploymentReady}, {"StatefulSet", statefulSetReady}} {
		g := gvkDeployment
		if gvk.kind == "StatefulSet" {
			g = gvkStatefulS
		}
		items, err := k.List(ctx, g, ns)
		if err != nil {
			return nil, nil, err
		}
		for i := range items {
			if !gvk.ready(&items[i]) {
				pending = append(pending, fmt.Sprintf("%s %s: not ready", gvk.kind, items[i].GetName()))
			}
		}
	}
	items, err := k.List(ctx, gvkApp, ns)
	if err != nil {
		return nil, nil, err
	}
	var apps []AppStatus
	seen := map[string]bool{}
	for i := range items {
		var app application
		if err := decodeApp(items[i].Object, &app); err != nil {
			return nil, nil, fmt.Errorf("decoding Application %s: %w", items[i].GetName(), err)
		}
		st := summarize(&app)
		apps = append(apps, st)
		seen[app.Name] = true
		if st.Sync != syncedCode || st.Health != "Healthy" {
			pending = append(pending, describe(st))
		}
		// Children the app-of-apps defines must exist too.
		if app.Name == root {
			for _, r := range app.Status.Resources {
				if r.Kind == "Application" && r.Group == "argoproj.io" && !seen[r.Name] && !hasItem(items, r.Name) {
					pending = append(pending, r.Name+": not created yet")
				}
			}
		}
	}
	if !seen[root] {
		pending = append(pending, root+": not created yet")
	}
	sort.Slice(apps, func(i, j int) bool { return apps[i].Name < apps[j].Name })
	return apps, pending, nil
}

func hasItem(items []unstructured.Unstructured, name string) bool {
	for _, it := range items {
		if it.GetName() == name {
			return true
		}
	}
	return false
}

// summarize reads an Application's state, with Argo CD's own words for what is wrong: error
// conditions first, then the operation's message, then the health message.
func summarize(app *application) AppStatus {
	st := AppStatus{Name: app.Name, Sync: string(app.Status.Sync.Status), Health: string(app.Status.Health.Status),
		Revision: app.Status.Sync.Revision}
	if st.Revision == "" && len(app.Status.Sync.Revisions) > 0 {
		// A multi-source Application reports one revision per source; they share the repository.
		st.Revision = app.Status.Sync.Revisions[0]
	}
	if st.Sync == "" {
		st.Sync = "Unknown"
	}
	if st.Health == "" {
		st.Health = "Unknown"
	}
	var msgs []string
	for _, c := range app.Status.Conditions {
		if c.isError() {
			msgs = append(msgs, c.Type+": "+c.Message)
		}
	}
	if op := app.Status.OperationState; op != nil && op.Phase != "" && op.Phase != "Succeeded" && op.Message != "" {
		msgs = append(msgs, "sync "+string(op.Phase)+": "+op.Message)
	}
	if m := app.Status.Health.Message; m != "" {
		msgs = append(msgs, m)
	}
	for _, r := range app.Status.Resources {
		if r.Health != nil && r.Health.Message != "" && r.Health.Status != "Healthy" {
			msgs = append(msgs, r.Kind+" "+r.Name+": "+r.Health.Message)
		}
	}
	st.Message = strings.Join(msgs, "; ")
	return st
}

func describe(st AppStatus) string {
	s := fmt.Sprintf("%s: %s/%s", st.Name, st.Sync, st.Health)
	if st.Message != "" {
		s += " (" + st.Message + ")"
	}
	return s
}

func deploymentReady(o *unstructured.Unstructured) bool {
	want, found, _ := unstructured.NestedInt64(o.Object, "spec", "replicas")
	if !found {
		want = 1
	}
	avail, _, _ := unstructured.NestedInt64(o.Object, "status", "availableReplicas")
	updated, _, _ := unstructured.NestedInt64(o.Object, "status", "updatedReplicas")
	return avail >= want && updated >= want
}

func statefulSetReady(o *unstructured.Unstructured) bool {
	want, found, _ := unstructured.NestedInt64(o.Object, "spec", "replicas")
	if !found {
		want = 1
	}
	ready, _, _ := unstructured.NestedInt64(o.Object, "status", "readyReplicas")
	return ready >= want
}

// decodeApp converts an unstructured Application to Argo CD's type through JSON, as the API
// server would; the reflection-based converter refuses some of its fields.
func decodeApp(obj map[string]any, app *application) error {
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, app)
}
