package argocd

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// SoakInput asks to watch an Application that runs a promotion's image, Healthy, for a while.
type SoakInput struct {
	Snapshot config.Snapshot `json:"snapshot"`
	App      string          `json:"app"`
	// Commit wrote Image; the Application must stay synced to it or to a later commit that
	// still holds Image (ManifestPath says where).
	Commit       string `json:"commit"`
	Image        string `json:"image"`
	ManifestPath string `json:"manifestPath,omitempty"`
	// Duration is how long the Application is watched in all, across retries.
	Duration time.Duration `json:"duration"`
	// DegradedFor is how long Degraded, or not running Image, must last to fail the soak.
	DegradedFor time.Duration `json:"degradedFor,omitempty"`
	// UnhealthyFor is how long any other state but Healthy (Progressing, Missing, Unknown,
	// synced to a commit not known to hold Image) may last: a Deployment whose pods crash after
	// its rollout completed stays Progressing, never Degraded. Zero means DegradedFor.
	UnhealthyFor time.Duration `json:"unhealthyFor,omitempty"`
}

// SoakProgress is the heartbeat: how long the Application has been watched, and its state. A
// retried attempt goes on from Watched instead of starting over.
type SoakProgress struct {
	Watched   time.Duration `json:"watched"`
	Remaining time.Duration `json:"remaining"`
	Status    AppStatus     `json:"status"`
	// Problem is what is wrong now, while it has not lasted long enough to fail the soak.
	Problem string `json:"problem,omitempty"`
}

// SoakOutput is the Application's state when the soak ended well.
type SoakOutput struct {
	Status  AppStatus     `json:"status"`
	Watched time.Duration `json:"watched"`
}

// Soak watches the Application for in.Duration: it must stay Healthy, running in.Image, at
// in.Commit or a later commit that still holds in.Image. Degraded, or another image, for
// DegradedFor, or any other state but Healthy for UnhealthyFor, fails the soak as ErrDegraded;
// a later commit that replaced the image ends it as ErrReplaced (the env is no longer ours to
// judge). It heartbeats its progress and, when retried, resumes from the last heartbeat.
func (a *Activities) Soak(ctx context.Context, in SoakInput) (SoakOutput, error) {
	k, env, err := a.cluster(ctx, &in.Snapshot)
	if err != nil {
		return SoakOutput{}, err
	}
	var from SoakProgress
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		// Details this version cannot read only cost the time already watched.
		_ = activity.GetHeartbeatDetails(ctx, &from)
	}
	ours := a.revisions(WaitAppInput{Commit: in.Commit, Image: in.Image, ManifestPath: in.ManifestPath})
	out, err := soak(ctx, k, env.ArgoCD.Namespace, in, ours, from.Watched, func(p SoakProgress) {
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, p)
		}
	})
	return out, classifyKube(err, env.Name)
}

// soakState is one look at the Application during a soak: fine, or what is wrong and whether
// it counts as Degraded (the short limit) or merely not Healthy (the long one).
type soakState struct {
	status AppStatus
	// problem says what is wrong ("is Degraded at c0ffee"), detail Argo CD's own words.
	problem, detail string
	degraded        bool
}

// soakTimers remember since when the Application has been in a bad state.
type soakTimers struct {
	badSince, degradedSince time.Time
}

// soak watches until watched reaches in.Duration with the Application fine at that moment,
// or until a bad state lasts past its limit.
func soak(ctx context.Context, k kube, ns string, in SoakInput, ours judge, watched time.Duration, progress func(SoakProgress)) (SoakOutput, error) {
	unhealthyFor := max(in.UnhealthyFor, in.DegradedFor)
	var timers soakTimers
	b := backoff{next: 250 * time.Millisecond, max: 3 * time.Second}
	last := time.Now()
	for {
		s, err := lookDuringSoak(ctx, k, ns, in, ours)
		if err != nil {
			return SoakOutput{Status: s.status, Watched: watched}, err
		}
		now := time.Now()
		watched += now.Sub(last)
		last = now
		if err := timers.judge(now, s, in, unhealthyFor); err != nil {
			return SoakOutput{Status: s.status, Watched: watched}, err
		}
		if watched >= in.Duration && s.problem == "" {
			return SoakOutput{Status: s.status, Watched: watched}, nil
		}
		progress(SoakProgress{Watched: watched, Remaining: max(in.Duration-watched, 0), Status: s.status, Problem: s.problem})
		if err := b.wait(ctx); err != nil {
			return SoakOutput{Status: s.status, Watched: watched}, err
		}
	}
}

// judge starts or stops the timers for the state s, seen at now, and fails the soak when a bad
// state has lasted past its limit.
func (t *soakTimers) judge(now time.Time, s soakState, in SoakInput, unhealthyFor time.Duration) error {
	switch {
	case s.problem == "":
		t.badSince, t.degradedSince = time.Time{}, time.Time{}
		return nil
	case s.degraded && t.degradedSince.IsZero():
		t.degradedSince = now
	case !s.degraded:
		t.degradedSince = time.Time{}
	}
	if t.badSince.IsZero() {
		t.badSince = now
	}
	if s.degraded && now.Sub(t.degradedSince) >= in.DegradedFor {
		return fail.New(ErrDegraded, "%s in %s %s for %s during its soak: %s", in.App, in.Snapshot.Env.Name, s.problem,
			now.Sub(t.degradedSince).Round(time.Second), s.detail)
	}
	if now.Sub(t.badSince) >= unhealthyFor {
		return fail.New(ErrDegraded, "%s in %s has not been Healthy for %s during its soak: it %s: %s", in.App, in.Snapshot.Env.Name,
			now.Sub(t.badSince).Round(time.Second), s.problem, s.detail)
	}
	return nil
}

// lookDuringSoak reads the Application once and says what, if anything, is wrong with it. A
// later commit that replaced the image is ErrReplaced.
func lookDuringSoak(ctx context.Context, k kube, ns string, in SoakInput, ours judge) (soakState, error) {
	obj, err := k.Get(ctx, gvkApp, ns, in.App)
	if err != nil {
		return soakState{}, err
	}
	if obj == nil {
		st := AppStatus{Name: in.App, Sync: "Unknown", Health: "Missing", Message: "Application not found"}
		return soakState{status: st, problem: "is missing", detail: "Application not found"}, nil
	}
	var app application
	if err := decodeApp(obj.Object, &app); err != nil {
		return soakState{}, fmt.Errorf("decoding Application %s: %w", in.App, err)
	}
	st := summarize(&app)
	at, err := synced(ctx, &app, ours)
	switch {
	case err != nil:
		return soakState{status: st}, err
	case !at:
		return soakState{status: st, problem: fmt.Sprintf("is synced to %s, not %s or a later commit known to hold %s", short(st.Revision), short(in.Commit), in.Image),
			detail: describe(st)}, nil
	case !slices.Contains(app.Status.Summary.Images, in.Image):
		return soakState{status: st, degraded: true, problem: "stopped running " + in.Image,
			detail: fmt.Sprintf("it runs %s", strings.Join(app.Status.Summary.Images, ", "))}, nil
	case st.Health == "Degraded":
		return soakState{status: st, degraded: true, problem: "is Degraded at " + short(in.Commit), detail: st.Message}, nil
	case st.Health != "Healthy":
		return soakState{status: st, problem: "is " + st.Sync + "/" + st.Health, detail: st.Message}, nil
	}
	return soakState{status: st}, nil
}
