package argocd

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/alexpermiakov/idp/internal/checkout"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// soakRun is one Soak activity run in Temporal's activity test environment, with the
// heartbeats it recorded.
type soakRun struct {
	out     SoakOutput
	err     error
	took    time.Duration
	mu      sync.Mutex
	beats   []SoakProgress
	resumed *SoakProgress
}

func (r *soakRun) exec(t *testing.T, a *Activities, in SoakInput) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	if r.resumed != nil {
		env.SetHeartbeatDetails(*r.resumed)
	}
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		var p SoakProgress
		if err := d.Get(&p); err != nil {
			t.Errorf("heartbeat details: %v", err)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.beats = append(r.beats, p)
	})
	start := time.Now()
	v, err := env.ExecuteActivity(a.Soak, in)
	r.took, r.err = time.Since(start), err
	if err == nil {
		require.NoError(t, v.Get(&r.out))
	}
}

// TestSoakAgainstAKubeAPIServer runs the Soak activity against a real kube-apiserver serving
// Argo CD's Application CRD, the test playing Argo CD by writing the Application's status while
// the soak watches, and a real Git repository for "is this later commit still ours".
func TestSoakAgainstAKubeAPIServer(t *testing.T) {
	c := startTestCluster(t)
	const path = "argocd/applications/prod/time-service.yaml"
	dir, ours, other, replaced := platformRepo(t, path)
	const (
		img   = "registry/idp/localtime:v1.2.3"
		older = "registry/idp/localtime:v1.2.2"
		newer = "registry/idp/localtime:v1.2.4"
	)
	a := New(Deps{Repo: checkout.Repo{URL: dir}})
	a.kubeFor = func(context.Context, *config.Environment) (kube, error) { return c.kube, nil }

	for _, tc := range []struct {
		name string
		// edit changes the input (Duration is 1 minute unless it says otherwise).
		edit func(in *SoakInput)
		// play writes the Application's status as Argo CD would, while the soak runs.
		play    func(app string)
		resumed *SoakProgress
		errType string
		errMsg  []string
		check   func(t *testing.T, r *soakRun)
	}{
		{name: "stays Healthy for the whole soak", edit: func(in *SoakInput) { in.Duration = 2 * time.Second },
			check: func(t *testing.T, r *soakRun) {
				require.GreaterOrEqual(t, r.took, 2*time.Second)
				require.GreaterOrEqual(t, r.out.Watched, 2*time.Second)
				require.Equal(t, "Healthy", r.out.Status.Health)
				r.mu.Lock()
				defer r.mu.Unlock()
				// The SDK throttles heartbeats: at least the first one goes out.
				require.NotEmpty(t, r.beats, "a soak heartbeats")
				require.Equal(t, 2*time.Second, r.beats[0].Watched+r.beats[0].Remaining)
				require.Equal(t, "Healthy", r.beats[0].Status.Health)
			}},
		{name: "Degraded during the soak fails it", play: func(app string) {
			time.Sleep(700 * time.Millisecond)
			c.setApp(t, app, ours, "Degraded", `Deployment "time-service" exceeded its progress deadline`, img)
		}, errType: ErrDegraded, errMsg: []string{"is Degraded at " + short(ours), "during its soak", "exceeded its progress deadline"},
			check: func(t *testing.T, r *soakRun) {
				require.GreaterOrEqual(t, r.took, 1300*time.Millisecond, "Degraded must last")
			}},
		{name: "a Degraded that does not last is not a failure", edit: func(in *SoakInput) {
			in.Duration, in.DegradedFor, in.UnhealthyFor = 3*time.Second, 2*time.Second, 2*time.Second
		}, play: func(app string) {
			time.Sleep(500 * time.Millisecond)
			c.setApp(t, app, ours, "Degraded", "a rollout's leftover condition", img)
			time.Sleep(500 * time.Millisecond)
			c.setApp(t, app, ours, "Healthy", "", img)
		}},
		{name: "another image at our commit fails it", play: func(app string) {
			time.Sleep(500 * time.Millisecond)
			c.setApp(t, app, ours, "Healthy", "", older)
		}, errType: ErrDegraded, errMsg: []string{"stopped running " + img, "it runs " + older}},
		{name: "Progressing for too long fails it", play: func(app string) {
			time.Sleep(500 * time.Millisecond)
			c.setApp(t, app, ours, "Progressing", "Waiting for rollout to finish: 0 of 1 updated replicas are available...", img)
		}, errType: ErrDegraded, errMsg: []string{"has not been Healthy for", "during its soak", "Synced/Progressing", "0 of 1 updated replicas"}},
		{name: "a deleted Application fails it", play: func(app string) {
			time.Sleep(500 * time.Millisecond)
			c.deleteApp(t, app)
		}, errType: ErrDegraded, errMsg: []string{"is missing"}},
		{name: "a later commit that keeps our image is still ours", edit: func(in *SoakInput) { in.Duration = 2 * time.Second },
			play: func(app string) {
				time.Sleep(500 * time.Millisecond)
				c.setApp(t, app, other, "Healthy", "", img)
			}},
		{name: "a later commit that replaced our image ends it as replaced", play: func(app string) {
			time.Sleep(500 * time.Millisecond)
			c.setApp(t, app, replaced, "Healthy", "", newer)
		}, errType: ErrReplaced, errMsg: []string{"no longer holds " + img, "a later change replaced it"}},
		{name: "a retry resumes from its heartbeat", resumed: &SoakProgress{Watched: 59 * time.Second},
			check: func(t *testing.T, r *soakRun) {
				require.Less(t, r.took, 30*time.Second, "the soak went on from 59s of 1m, not from zero")
				require.GreaterOrEqual(t, r.out.Watched, time.Minute)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := "soak-" + strings.ReplaceAll(strings.ToLower(tc.name), " ", "-")
			app = strings.TrimRight(app[:min(len(app), 50)], "-")
			c.setApp(t, app, ours, "Healthy", "", img)
			in := SoakInput{Snapshot: testSnapshot(), App: app, Commit: ours, Image: img, ManifestPath: path,
				Duration: time.Minute, DegradedFor: 600 * time.Millisecond, UnhealthyFor: 2 * time.Second}
			if tc.edit != nil {
				tc.edit(&in)
			}
			done := make(chan struct{})
			if tc.play != nil {
				go func() { defer close(done); tc.play(app) }()
			} else {
				close(done)
			}
			r := &soakRun{resumed: tc.resumed}
			r.exec(t, a, in)
			<-done
			if tc.errType == "" {
				require.NoError(t, r.err)
			} else {
				require.Error(t, r.err)
				require.True(t, fail.Is(r.err, tc.errType), "want %s, got %v", tc.errType, r.err)
				for _, m := range tc.errMsg {
					require.ErrorContains(t, r.err, m)
				}
				require.Less(t, r.took, time.Minute, "a failed soak ends when it fails, not when its time is up")
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// TestSoakStates is the quick check, over the fake cluster, of what each state of the
// Application means for a soak.
func TestSoakStates(t *testing.T) {
	const img = "registry/idp/localtime:v1.2.3"
	in := SoakInput{Snapshot: testSnapshot(), App: "time-service-prod", Commit: "c0ffee", Image: img, Duration: 200 * time.Millisecond}
	degraded := appAt("c0ffee", "Synced", "Degraded", time.Now())
	_ = unstructured.SetNestedField(degraded.Object, "Back-off pulling image", "status", "health", "message")
	for _, tc := range []struct {
		name    string
		seed    []unstructured.Unstructured
		errType string
		errMsg  string
	}{
		{"Healthy at our commit", []unstructured.Unstructured{appAt("c0ffee", "Synced", "Healthy", time.Now())}, "", ""},
		{"OutOfSync but Healthy at our commit", []unstructured.Unstructured{appAt("c0ffee", "OutOfSync", "Healthy", time.Now())}, "", ""},
		{"Degraded", []unstructured.Unstructured{degraded}, ErrDegraded, "time-service-prod in dev is Degraded at c0ffee for 0s during its soak: Back-off pulling image"},
		{"Progressing", []unstructured.Unstructured{appAt("c0ffee", "Synced", "Progressing", time.Now())}, ErrDegraded, "has not been Healthy for 0s during its soak: it is Synced/Progressing"},
		{"at another commit", []unstructured.Unstructured{appAt("beef", "Synced", "Healthy", time.Now())}, ErrDegraded, "it is synced to beef, not c0ffee or a later commit known to hold " + img},
		{"missing", nil, ErrDegraded, "it is missing: Application not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k := newFakeKube()
			seed(k, tc.seed...)
			out, err := soak(context.Background(), k, "argocd", in, exactly(in.Commit), 0, func(SoakProgress) {})
			if tc.errType == "" {
				require.NoError(t, err)
				require.GreaterOrEqual(t, out.Watched, in.Duration)
				return
			}
			require.True(t, fail.Is(err, tc.errType), "want %s, got %v", tc.errType, err)
			require.ErrorContains(t, err, tc.errMsg)
		})
	}
}
