package argocd

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"go.temporal.io/sdk/activity"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// Failure types of WaitApp, stable for workflows to branch on.
const (
	// ErrDegraded: Argo CD reports the Application Degraded at our commit.
	ErrDegraded = "Degraded"
	// ErrHealthTimeout: the Application did not become Synced and Healthy at our commit in time.
	ErrHealthTimeout = "HealthTimeout"
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
	cur, err := k.Get(ctx, gvkApp, ns, name)
	if err != nil || cur == nil {
		// Applying only the annotation to a missing Application would create one without a spec.
		return err
	}
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": name, "namespace": ns,
			"annotations": map[string]any{v1alpha1.AnnotationKeyRefresh: string(v1alpha1.RefreshTypeNormal)}}}}
	_, err = k.Apply(ctx, obj, refreshManager)
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
}

// WaitAppOutput is the Application's state once Synced and Healthy at the commit.
type WaitAppOutput struct {
	Status AppStatus `json:"status"`
	Images []string  `json:"images,omitempty"`
}

// WaitApp waits until the Application is Synced to exactly the commit and Healthy, with no
// ComparisonError or InvalidSpecError and a status reconciled after Since. Degraded at the
// commit fails at once with Argo CD's message; so does running out of time, with the state.
func (a *Activities) WaitApp(ctx context.Context, in WaitAppInput) (WaitAppOutput, error) {
	k, env, err := a.cluster(ctx, &in.Snapshot)
	if err != nil {
		return WaitAppOutput{}, err
	}
	out, err := waitApp(ctx, k, env.ArgoCD.Namespace, in, func(st AppStatus) {
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, st)
		}
	})
	return out, classifyKube(err, env.Name)
}

func waitApp(ctx context.Context, k kube, ns string, in WaitAppInput, progress func(AppStatus)) (WaitAppOutput, error) {
	deadline := time.Now().Add(in.Timeout)
	b := backoff{next: 250 * time.Millisecond, max: 3 * time.Second}
	var last AppStatus
	var degradedSince time.Time
	for {
		obj, err := k.Get(ctx, gvkApp, ns, in.App)
		if err != nil {
			return WaitAppOutput{}, err
		}
		if obj != nil {
			var app v1alpha1.Application
			if err := decodeApp(obj.Object, &app); err != nil {
				return WaitAppOutput{}, fmt.Errorf("decoding Application %s: %w", in.App, err)
			}
			last = Status(&app)
			done, err := atCommit(&app, in)
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
			progress(last)
		} else {
			last = AppStatus{Name: in.App, Sync: "Unknown", Health: "Missing", Message: "Application not found"}
		}
		if time.Now().After(deadline) {
			return WaitAppOutput{Status: last}, fail.New(ErrHealthTimeout, "%s in %s not Synced and Healthy at %s after %s: %s",
				in.App, in.Snapshot.Env.Name, short(in.Commit), in.Timeout, describe(last))
		}
		if err := b.wait(ctx); err != nil {
			return WaitAppOutput{Status: last}, err
		}
	}
}

// atCommit says whether the Application is Synced and Healthy at the commit; Degraded at the
// commit is an error.
func atCommit(app *v1alpha1.Application, in WaitAppInput) (bool, error) {
	st := app.Status
	if !slices.Contains(append([]string{st.Sync.Revision}, st.Sync.Revisions...), in.Commit) {
		return false, nil
	}
	if st.ReconciledAt == nil || st.ReconciledAt.Time.Before(in.Since.Add(-time.Second)) {
		return false, nil
	}
	for _, c := range st.Conditions {
		if c.Type == v1alpha1.ApplicationConditionComparisonError || c.Type == v1alpha1.ApplicationConditionInvalidSpecError {
			return false, nil
		}
	}
	if in.Image != "" && !slices.Contains(st.Summary.Images, in.Image) {
		// Synced to the commit, but the Application's own definition (its Helm values) has
		// not reached the cluster yet.
		return false, nil
	}
	if st.Health.Status == "Degraded" {
		return false, fail.New(ErrDegraded, "%s in %s is Degraded at %s: %s", app.Name, in.Snapshot.Env.Name, short(in.Commit), Status(app).Message)
	}
	return st.Sync.Status == v1alpha1.SyncStatusCodeSynced && st.Health.Status == "Healthy", nil
}
