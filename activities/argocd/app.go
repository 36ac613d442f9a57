package argocd

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/manifest"
	"github.com/alexpermiakov/idp/internal/metrics"
)

// Failure types of WaitApp, stable for workflows to branch on.
const (
	// ErrDegraded: Argo CD reports the Application Degraded at our commit.
	ErrDegraded = "Degraded"
	// ErrHealthTimeout: the Application did not become Synced and Healthy at our commit in time.
	ErrHealthTimeout = "HealthTimeout"
	// ErrReplaced: Argo CD runs a later commit whose manifest no longer holds our image: a
	// newer change replaced it before it ran, so there is nothing of ours to verify or undo.
	ErrReplaced = fail.Replaced
	// ErrNotApplied: in the time given, Argo CD never reported the Application at a revision
	// that counts as ours (a busy Argo CD still working through earlier commits): the release
	// has not run, so there is nothing to judge and nothing to roll back.
	ErrNotApplied = "ArgoCDNotApplied"
)

// refreshManager owns the refresh annotation idp sets.
const refreshManager = "idp-refresh"

// AppInput names one Application in one env.
type AppInput struct {
	Snapshot config.Snapshot `json:"snapshot"`
	App      string          `json:"app"`
}

// RefreshApp asks Argo CD to compare the Application with Git now, through the refresh
// annotation, instead of at its next reconciliation. An Application that does not exist yet
// has nothing to refresh: Argo CD compares it when the app-of-apps creates it.
func (a *Activities) RefreshApp(ctx context.Context, in AppInput) error {
	k, env, err := a.cluster(ctx, &in.Snapshot)
	if err != nil {
		return err
	}
	return classifyKube(refresh(ctx, k, env.ArgoCD.Namespace, in.App), env.Name)
}

func refresh(ctx context.Context, k kube, ns, name string) error {
	// One merge patch of the annotation: a missing Application (404) is left missing, since
	// applying the annotation alone would create one without a spec.
	_, err := k.Annotate(ctx, gvkApp, ns, name, map[string]string{annotationRefresh: refreshNormal}, refreshManager)
	return err
}

// refreshFor asks Argo CD to refresh name for a commit written at since, unless a refresh
// this process requested after since has already set the annotation anew: Argo CD compares
// with Git as it is when it takes that request, after since, so its comparison covers the
// commit. The waits of a group commit (up to 64 promotions, one push) then ask their
// app-of-apps for one comparison of all its Applications, not one each: each request that
// lands after Argo CD has taken the previous one makes it compare them all again.
func refreshFor(ctx context.Context, k kube, ns, name string, since time.Time) error {
	rl, _ := k.(refreshLog)
	if rl != nil && rl.refreshedAt(ns, name).After(since) {
		return nil
	}
	// Only a request that sets the annotation starts a comparison: one that finds it there
	// joins a request Argo CD may already be working on, with Git as it was before.
	anew := false
	if w, ok := k.(watcher); ok {
		if obj, ok := w.Latest(gvkApp, ns, name); ok && obj != nil {
			_, pending := obj.GetAnnotations()[annotationRefresh]
			anew = !pending
		}
	}
	at := time.Now()
	err := refresh(ctx, k, ns, name)
	if err == nil && anew && rl != nil {
		rl.refreshed(ns, name, at)
	}
	return err
}

// WaitAppInput asks to wait until an Application runs a commit.
type WaitAppInput struct {
	Snapshot config.Snapshot `json:"snapshot"`
	App      string          `json:"app"`
	Commit   string          `json:"commit"`
	// Since is when the commit was written: a status reconciled before it says nothing about it.
	Since   time.Time     `json:"since"`
	Timeout time.Duration `json:"timeout"`
	// Image, when set, must be among the images the Application runs.
	Image string `json:"image,omitempty"`
	// DegradedFor is how long Degraded at the commit must last to count: right after a sync,
	// a Deployment may still carry the condition of the rollout it replaces.
	DegradedFor time.Duration `json:"degradedFor,omitempty"`
	// ManifestPath is the file in the platform repository that Image was written to. With it,
	// a later commit counts as ours when it descends from Commit and the file still holds
	// Image: other changes may land on the branch before Argo CD syncs ours.
	ManifestPath string `json:"manifestPath,omitempty"`
	// Refresh asks Argo CD to refresh the Application before the wait starts, as RefreshApp
	// does: one activity instead of two.
	Refresh bool `json:"refresh,omitempty"`
	// Root, when set, is the env's app-of-apps, which applies App's definition: the wait
	// first sees Root Synced and Healthy at the commit (refreshed first when Refresh is set),
	// then App. One activity instead of two.
	Root string `json:"root,omitempty"`
	// child, in the wait on Root, is App: the app-of-apps counts as synced once it has
	// applied App's definition at a revision of ours, whatever its other Applications show.
	child string
}

// WaitAppOutput is the Application's state once Synced and Healthy at the commit.
type WaitAppOutput struct {
	Status AppStatus `json:"status"`
	Images []string  `json:"images,omitempty"`
}

// WaitApp waits until the Application is Synced to the commit (or a later one that still holds
// what the commit wrote) and Healthy, with no ComparisonError or InvalidSpecError and a status
// reconciled after Since. Degraded there fails with Argo CD's message; so does running out of
// time, with the state; a later commit that replaced our image ends the wait as ErrReplaced.
func (a *Activities) WaitApp(ctx context.Context, in WaitAppInput) (WaitAppOutput, error) {
	if in.Root != "" {
		root := in
		root.App, root.Root, root.Image, root.child = in.Root, "", "", in.App
		if out, err := a.WaitApp(ctx, root); err != nil {
			return out, err
		}
		in.Root = ""
	}
	k, env, err := a.cluster(ctx, &in.Snapshot)
	if err != nil {
		return WaitAppOutput{}, err
	}
	// A refresh that fails (the Kubernetes API away) is left to the wait, which asks again
	// when Argo CD is slow and reports an API that stays away.
	if in.Refresh {
		if err := refreshFor(ctx, k, env.ArgoCD.Namespace, in.App, in.Since); err != nil && ctx.Err() != nil {
			return WaitAppOutput{}, ctx.Err()
		}
	}
	start := time.Now()
	out, err := waitApp(ctx, k, env.ArgoCD.Namespace, in, a.revisions(in), func(st AppStatus) {
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, st)
		}
	})
	metrics.Wait(ctx, env.Name, in.App, waitOutcome(err), start)
	return out, classifyKube(err, env.Name)
}

func waitApp(ctx context.Context, k kube, ns string, in WaitAppInput, ours judge, progress func(AppStatus)) (WaitAppOutput, error) {
	deadline := time.Now().Add(in.Timeout)
	b := appPolls
	changed, stop := wakeups(k, ns, in.App)
	defer stop()
	rc := newReach(in.App, time.Now())
	last := AppStatus{Name: in.App, Sync: "Unknown", Health: "Unknown"}
	var degradedSince time.Time
	// reached says Argo CD reported the Application at a revision of ours at least once;
	// refused says its last comparison failed (a manifest it cannot render).
	var reached, refused bool
	for {
		obj, err := getApp(ctx, k, ns, in.App)
		switch {
		case err != nil && ctx.Err() == nil && unanswered(err):
			rc.apiDown(err, time.Now())
		case err != nil:
			return WaitAppOutput{}, err
		case obj != nil:
			rc.apiUp(time.Now())
			var app application
			if err := decodeApp(obj.Object, &app); err != nil {
				return WaitAppOutput{}, fmt.Errorf("decoding Application %s: %w", in.App, err)
			}
			last = summarize(&app)
			at, err := synced(ctx, &app, ours)
			if err != nil {
				return WaitAppOutput{Status: last}, err
			}
			reached, refused = reached || at, comparisonFailed(&app)
			done, err := atCommit(&app, at, in)
			switch {
			case err != nil && degradedSince.IsZero():
				degradedSince = time.Now()
			case err == nil:
				degradedSince = time.Time{}
			}
			if err != nil && time.Since(degradedSince) >= in.DegradedFor {
				return WaitAppOutput{Status: last}, err
			}
			if done {
				return WaitAppOutput{Status: last, Images: app.Status.Summary.Images}, nil
			}
			if rc.seen(&app, time.Now(), func(after time.Time) bool { return anyReconciled(ctx, k, ns, after) }) {
				probeIdle(ctx, k, ns, in.App, rc)
			}
		default:
			rc.apiUp(time.Now())
			last = AppStatus{Name: in.App, Sync: "Unknown", Health: "Missing", Message: "Application not found"}
		}
		last.Note = rc.note()
		progress(last)
		if time.Now().After(deadline) && !rc.undecided(deadline) {
			if last.Note != "" {
				return WaitAppOutput{Status: last}, fail.New(ErrUnreachable, "%s; whether %s in %s is Healthy at %s is unknown after %s: not judged, not rolled back",
					last.Note, in.App, in.Snapshot.Env.Name, short(in.Commit), in.Timeout)
			}
			if !reached && !refused {
				return WaitAppOutput{Status: last}, fail.New(ErrNotApplied, "Argo CD has not brought %s in %s to %s after %s (%s): the release has not run, so it is neither judged nor rolled back; Git keeps it, and Argo CD applies it once it catches up",
					in.App, in.Snapshot.Env.Name, short(in.Commit), in.Timeout, describe(last))
			}
			return WaitAppOutput{Status: last}, fail.New(ErrHealthTimeout, "%s in %s not Synced and Healthy at %s after %s: %s",
				in.App, in.Snapshot.Env.Name, short(in.Commit), in.Timeout, describe(last))
		}
		if err := b.waitOr(ctx, changed); err != nil {
			return WaitAppOutput{Status: last}, err
		}
	}
}

// wakeups signals each change of the Application where k watches (a cluster); stop ends it.
// Elsewhere (a test's fake kube) the channel never signals and the wait polls alone.
func wakeups(k kube, ns, app string) (changed <-chan struct{}, stop func()) {
	if w, ok := k.(watcher); ok {
		return w.Changes(gvkApp, ns, app)
	}
	return nil, func() {}
}

// appPolls paces a wait's reads of its Application. Where the kube watches (a cluster), the
// watch of the env's Applications also wakes the wait on every change of its Application, so
// Argo CD's verdict is seen when it is written rather than at the next poll; the polls go on
// for the judgements that depend on time passing (an Argo CD that does not answer).
var appPolls = backoff{next: 250 * time.Millisecond, max: 3 * time.Second}

// getApp reads the Application: as the env's shared watch last delivered it where one runs
// (the wait listens to it, so it does, unless the API is away), else from the API, bounded in
// time so a hanging API cannot stall the wait. Nil: it does not exist.
func getApp(ctx context.Context, k kube, ns, name string) (*unstructured.Unstructured, error) {
	if w, ok := k.(watcher); ok {
		if obj, ok := w.Latest(gvkApp, ns, name); ok {
			return obj, nil
		}
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return k.Get(cctx, gvkApp, ns, name)
}

// probeIdle probes the controller unless it reconciled another Application meanwhile: then
// it is at work, and a refresh would only add to its queue.
func probeIdle(ctx context.Context, k kube, ns, name string, rc *reach) {
	if othersReconciled(k, ns, rc.lastLife) {
		rc.alive(time.Now())
		return
	}
	probe(ctx, k, ns, name, rc)
}

// probe requests a refresh to learn whether the application controller answers.
func probe(ctx context.Context, k kube, ns, name string, rc *reach) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	switch err := refresh(cctx, k, ns, name); {
	case err == nil:
		rc.probed(time.Now())
	case unanswered(err):
		rc.apiDown(err, time.Now())
	}
}

// synced says whether one of the revisions the Application is synced to counts as ours.
func synced(ctx context.Context, app *application, ours judge) (bool, error) {
	for _, rev := range append([]string{app.Status.Sync.Revision}, app.Status.Sync.Revisions...) {
		if rev == "" {
			continue
		}
		if ok, err := ours(ctx, rev); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

// comparisonFailed says whether Argo CD could not compare the Application with Git (its
// manifests do not render, or its spec is invalid).
func comparisonFailed(app *application) bool {
	for _, c := range app.Status.Conditions {
		if c.Type == conditionComparisonErr || c.Type == conditionInvalidSpecErr {
			return true
		}
	}
	return false
}

// atCommit says whether the Application, synced at a revision that counts as ours (at), is
// Synced and Healthy there; Degraded there is an error.
func atCommit(app *application, at bool, in WaitAppInput) (bool, error) {
	st := app.Status
	if !at {
		return false, nil
	}
	if st.ReconciledAt == nil || st.ReconciledAt.Time.Before(in.Since.Add(-time.Second)) {
		return false, nil
	}
	if comparisonFailed(app) {
		return false, nil
	}
	if in.Image != "" && !slices.Contains(st.Summary.Images, in.Image) {
		// Synced to the commit, but the Application's own definition (its Helm values) has
		// not reached the cluster yet.
		return false, nil
	}
	if st.Health.Status == "Degraded" {
		return false, fail.New(ErrDegraded, "%s in %s is Degraded at %s: %s", app.Name, in.Snapshot.Env.Name, short(in.Commit), summarize(app).Message)
	}
	return syncedOrChild(app, in.child) && st.Health.Status == "Healthy", nil
}

// syncedOrChild says whether the Application is Synced at its revision, or, for child, whether the
// Application child it defines is. An app-of-apps that a wave of promotions keeps changing is
// OutOfSync while it applies the newest commit's Applications, most of the time: a wait on it
// as a whole would hold a promotion whose app runs already until the wave is over.
// One that does not list child (an app defined elsewhere) is judged as a whole.
func syncedOrChild(app *application, child string) bool {
	for _, r := range app.Status.Resources {
		if child != "" && r.Kind == "Application" && r.Group == "argoproj.io" && r.Name == child {
			return r.Status == syncedCode
		}
	}
	return app.Status.Sync.Status == syncedCode
}

// judge says whether a revision an Application is synced to counts as the promotion's commit.
type judge func(ctx context.Context, revision string) (bool, error)

// exactly counts only the commit itself.
func exactly(commit string) judge {
	return func(_ context.Context, rev string) (bool, error) { return rev == commit, nil }
}

// revisions counts the commit, and a later commit on the same line whose manifest still holds
// the image in.Image names; a later one that replaced it is ErrReplaced. Answers are kept per
// revision, so the repository is read once for each commit Argo CD reports.
func (a *Activities) revisions(in WaitAppInput) judge {
	if in.ManifestPath == "" || a.repo == nil {
		return exactly(in.Commit)
	}
	seen := map[string]bool{}
	return func(ctx context.Context, rev string) (bool, error) {
		if rev == in.Commit {
			return true, nil
		}
		if ok, known := seen[rev]; known || !isCommit(rev) {
			return ok, nil
		}
		l, err := a.repo.Lineage(ctx, in.Commit, rev, in.ManifestPath)
		if err != nil {
			// Not knowable now (the remote is away, or lacks the commit): not ours yet; the
			// wait goes on and times out with the state if it stays so.
			return false, nil
		}
		seen[rev] = l.Descends
		if !l.Descends || in.Image == "" {
			return l.Descends, nil
		}
		if img, err := manifest.Image(l.File); err != nil || img != in.Image {
			seen[rev] = false
			return false, fail.New(ErrReplaced, "%s at %s no longer holds %s (%s): a later change replaced it",
				in.ManifestPath, short(rev), in.Image, imageOrWhy(img, err))
		}
		return true, nil
	}
}

func imageOrWhy(img string, err error) string {
	if err != nil {
		return err.Error()
	}
	return "it has " + img
}

// isCommit reports whether a revision is a full Git commit hash (multi-source Applications
// also report chart versions).
func isCommit(rev string) bool {
	return len(rev) == 40 && strings.Trim(rev, "0123456789abcdef") == ""
}
