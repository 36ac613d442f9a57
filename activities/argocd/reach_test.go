package argocd

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/alexpermiakov/idp/internal/config"
)

// countingKube counts reads; answer plays an application controller that takes every
// refresh request; down makes every read fail as a stopped API server does.
type countingKube struct {
	*fakeKube
	gets   int
	answer bool
	down   bool
	// busy plays a controller that leaves this refresh queued while it reconciles others.
	busy bool
}

func (c *countingKube) List(ctx context.Context, gvk schema.GroupVersionKind, ns string) ([]unstructured.Unstructured, error) {
	items, err := c.fakeKube.List(ctx, gvk, ns)
	if c.busy && gvk.Kind == "Application" {
		items = append(items, appAt("beef", "Synced", "Healthy", time.Now().Add(time.Second)))
		items[len(items)-1].SetName("another-app")
	}
	return items, err
}

func (c *countingKube) Get(ctx context.Context, gvk schema.GroupVersionKind, ns, name string) (*unstructured.Unstructured, error) {
	c.gets++
	if c.down {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	o, err := c.fakeKube.Get(ctx, gvk, ns, name)
	if o != nil && c.answer {
		if _, ok := o.GetAnnotations()[annotationRefresh]; ok {
			o.SetAnnotations(nil)
			_ = unstructured.SetNestedField(o.Object, time.Now().Add(time.Duration(c.gets)*time.Second).UTC().Format(time.RFC3339), "status", "reconciledAt")
		}
	}
	return o, err
}

func (c *countingKube) Annotate(ctx context.Context, gvk schema.GroupVersionKind, ns, name string, annotations map[string]string, manager string) (bool, error) {
	if c.down {
		return false, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	return c.fakeKube.Annotate(ctx, gvk, ns, name, annotations, manager)
}

func shortReach(t *testing.T) {
	pa, aw := probeAfter, answerWithin
	probeAfter, answerWithin = 200*time.Millisecond, 300*time.Millisecond
	t.Cleanup(func() { probeAfter, answerWithin = pa, aw })
}

// TestWaitAppArgoCDAway: an application controller that does not answer the refresh the
// wait asks for makes the wait end as ErrUnreachable, naming Argo CD, with the note in its
// heartbeats and a bounded number of reads; one that answers leaves a plain HealthTimeout;
// a Kubernetes API that refuses connections is waited out, not failed at once.
func TestWaitAppArgoCDAway(t *testing.T) {
	shortReach(t)
	in := WaitAppInput{Snapshot: config.Snapshot{Env: config.Environment{Name: "dev"}}, App: "time-service-prod", Commit: "c0ffee",
		Since: time.Now().Add(-time.Minute), Timeout: 1500 * time.Millisecond}
	for _, tc := range []struct {
		name          string
		answer, down  bool
		errType, want string
	}{
		{"controller stopped", false, false, ErrUnreachable, "its application controller has not answered a refresh of time-service-prod"},
		{"controller answers", true, false, ErrNotApplied, "Argo CD has not brought time-service-prod in dev to c0ffee"},
		{"API refuses connections", false, true, ErrUnreachable, "the Kubernetes API does not answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := &countingKube{fakeKube: newFakeKube(), answer: tc.answer, down: tc.down}
			k.servesCRDs["Application"] = true
			seed(k.fakeKube, appAt("beef", "Synced", "Healthy", time.Now().Add(-time.Minute)))
			var notes []string
			start := time.Now()
			_, err := waitApp(context.Background(), k, "argocd", in, exactly(in.Commit), func(st AppStatus) {
				if st.Note != "" {
					notes = append(notes, st.Note)
				}
			})
			require.GreaterOrEqual(t, time.Since(start), in.Timeout, "the wait does not end early")
			require.True(t, failIs(err, tc.errType), "want %s, got %v", tc.errType, err)
			require.ErrorContains(t, err, tc.want)
			require.LessOrEqual(t, k.gets, 12, "reads back off (%d in %s)", k.gets, in.Timeout)
			if tc.errType == ErrUnreachable {
				require.ErrorContains(t, err, "Argo CD unreachable since")
				require.ErrorContains(t, err, "not rolled back")
				require.NotEmpty(t, notes, "heartbeats say Argo CD is unreachable")
			} else {
				require.Empty(t, notes)
			}
		})
	}
}

// TestWaitAppControllerBusy: a controller that leaves the refresh queued while it reconciles
// other Applications is busy, not away: the wait says nothing of Argo CD being unreachable,
// and ends, as the app never came to the commit, as ErrNotApplied (nothing rolled back).
func TestWaitAppControllerBusy(t *testing.T) {
	shortReach(t)
	in := WaitAppInput{Snapshot: config.Snapshot{Env: config.Environment{Name: "dev"}}, App: "dev-apps", Commit: "c0ffee",
		Since: time.Now().Add(-time.Minute), Timeout: 1500 * time.Millisecond}
	k := &countingKube{fakeKube: newFakeKube(), busy: true}
	k.servesCRDs["Application"] = true
	seed(k.fakeKube, appAt("beef", "Synced", "Healthy", time.Now().Add(-time.Minute)))
	var notes []string
	_, err := waitApp(context.Background(), k, "argocd", in, exactly(in.Commit), func(st AppStatus) {
		if st.Note != "" {
			notes = append(notes, st.Note)
		}
	})
	require.True(t, failIs(err, ErrNotApplied), "want %s, got %v", ErrNotApplied, err)
	require.NotContains(t, err.Error(), "unreachable")
	require.Empty(t, notes, "a busy controller is not reported unreachable")
}

// landingKube fails the apply number failAt after it landed, as a connection lost before
// the answer: the object is there, the install does not know.
type landingKube struct {
	*fakeKube
	n, failAt int
}

func (l *landingKube) Apply(ctx context.Context, o *unstructured.Unstructured, m string) (bool, error) {
	changed, err := l.fakeKube.Apply(ctx, o, m)
	if l.n++; l.n == l.failAt {
		return false, errors.New("http2: client connection lost")
	}
	return changed, err
}

// TestInstallResumes: an install interrupted mid-way resumes after the last apply its
// heartbeat recorded, does not apply those objects again, and reports what both attempts
// created once each, never counting the object it found already there as created.
func TestInstallResumes(t *testing.T) {
	manifest, _ := decode([]byte(testManifest))
	apps, _ := decode([]byte(testBootstrap))
	k := &landingKube{fakeKube: newFakeKube(), failAt: 7}
	var last InstallProgress
	_, err := installFrom(context.Background(), k, testEnv(), manifest, apps, InstallProgress{}, func(p InstallProgress) { last = p })
	require.Error(t, err)
	require.Equal(t, 6, last.Done, "six applies recorded before the seventh failed")
	require.Len(t, last.Created, 6)

	manifest, _ = decode([]byte(testManifest))
	apps, _ = decode([]byte(testBootstrap))
	k.fakeKube.applied = nil
	out, err := installFrom(context.Background(), k, testEnv(), manifest, apps, last, func(InstallProgress) {})
	require.NoError(t, err)
	require.Equal(t, 6, out.Resumed)
	require.Equal(t, "Secret/argocd-secret", k.fakeKube.applied[0], "the retry starts at the apply that failed")
	require.Equal(t, 11, out.Objects)
	require.Len(t, out.Created, 10, "the object found there after the lost answer is not claimed as created")
	require.NotContains(t, out.Created, "Secret/argocd-secret")
	require.Equal(t, []string{"Secret/argocd-secret"}, out.Updated, "found there, then given its server key")

	manifest, _ = decode([]byte(testManifest))
	apps, _ = decode([]byte(testBootstrap))
	other, err := installFrom(context.Background(), k, testEnv(), manifest, apps, InstallProgress{Plan: "another", Done: 9}, func(InstallProgress) {})
	require.NoError(t, err)
	require.Zero(t, other.Resumed, "progress of another install is not resumed")
	require.Empty(t, other.Created)
}

// TestWaitAppAsksBeforeBlaming: a deadline that passes while Argo CD has not yet had time to
// answer a refresh does not blame the release: the wait first learns whether Argo CD is there.
func TestWaitAppAsksBeforeBlaming(t *testing.T) {
	shortReach(t)
	in := WaitAppInput{Snapshot: config.Snapshot{Env: config.Environment{Name: "dev"}}, App: "time-service-prod", Commit: "c0ffee",
		Since: time.Now().Add(-time.Minute), Timeout: 350 * time.Millisecond}
	k := &countingKube{fakeKube: newFakeKube()}
	k.servesCRDs["Application"] = true
	seed(k.fakeKube, appAt("beef", "Synced", "Healthy", time.Now().Add(-time.Minute)))
	_, err := waitApp(context.Background(), k, "argocd", in, exactly(in.Commit), func(AppStatus) {})
	require.True(t, failIs(err, ErrUnreachable), "want %s, got %v", ErrUnreachable, err)
}
