package argocd

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// fakeKube is an in-memory cluster: Apply stores objects (a CRD becomes Established after
// establishAfter reads), and it records the order of applies.
type fakeKube struct {
	objs           map[string]*unstructured.Unstructured
	applied        []string
	annotated      []string // Annotate's writes, in order
	crdReads       map[string]int
	establishAfter int
	refreshed      int
	servesCRDs     map[string]bool // kinds served once their CRD is established and discovery refreshed
	err            error           // when set, every Get, List and Annotate fails with it
	applyErr       error           // when set, every Apply and Annotate fails with it
}

func newFakeKube() *fakeKube {
	return &fakeKube{objs: map[string]*unstructured.Unstructured{}, crdReads: map[string]int{}, establishAfter: 2, servesCRDs: map[string]bool{}}
}

func key(gvk schema.GroupVersionKind, ns, name string) string {
	return gvk.Kind + "/" + ns + "/" + name
}

func (f *fakeKube) Apply(_ context.Context, o *unstructured.Unstructured, _ string) (bool, error) {
	if f.applyErr != nil {
		return false, f.applyErr
	}
	if o.GetAPIVersion() == "argoproj.io/v1alpha1" && !f.servesCRDs[o.GetKind()] {
		return false, fmt.Errorf("the cluster does not serve %s yet", o.GetKind())
	}
	k := key(o.GroupVersionKind(), o.GetNamespace(), o.GetName())
	f.applied = append(f.applied, o.GetKind()+"/"+o.GetName())
	merged := o.DeepCopy()
	old, ok := f.objs[k]
	if ok {
		// Like server-side apply with several managers: fields this apply leaves out, which
		// another manager (or a controller, for status) set, stay.
		for _, path := range [][]string{{"data"}, {"spec"}, {"metadata", "annotations"}} {
			prev, _, _ := unstructured.NestedMap(old.Object, path...)
			next, _, _ := unstructured.NestedMap(merged.Object, path...)
			if prev == nil {
				continue
			}
			for k, v := range next {
				prev[k] = v
			}
			_ = unstructured.SetNestedMap(merged.Object, prev, path...)
		}
		if st, ok := old.Object["status"]; ok {
			merged.Object["status"] = st
		}
		if reflect.DeepEqual(old.Object["spec"], merged.Object["spec"]) && reflect.DeepEqual(old.Object["data"], merged.Object["data"]) &&
			reflect.DeepEqual(old.GetAnnotations(), merged.GetAnnotations()) {
			return false, nil
		}
	}
	f.objs[k] = merged
	return true, nil
}

func (f *fakeKube) Get(_ context.Context, gvk schema.GroupVersionKind, ns, name string) (*unstructured.Unstructured, error) {
	if f.err != nil {
		return nil, f.err
	}
	o, ok := f.objs[key(gvk, ns, name)]
	if !ok {
		return nil, nil
	}
	if gvk.Kind == "CustomResourceDefinition" {
		f.crdReads[name]++
		if f.crdReads[name] >= f.establishAfter {
			o = o.DeepCopy()
			_ = unstructured.SetNestedSlice(o.Object, []any{map[string]any{"type": "Established", "status": "True"}}, "status", "conditions")
		}
	}
	return o, nil
}

func (f *fakeKube) List(_ context.Context, gvk schema.GroupVersionKind, ns string) ([]unstructured.Unstructured, error) {
	if f.err != nil {
		return nil, f.err
	}
	var out []unstructured.Unstructured
	for k, o := range f.objs {
		if strings.HasPrefix(k, gvk.Kind+"/"+ns+"/") {
			out = append(out, *o)
		}
	}
	return out, nil
}

func (f *fakeKube) Delete(_ context.Context, gvk schema.GroupVersionKind, ns, name string) (bool, error) {
	k := key(gvk, ns, name)
	_, ok := f.objs[k]
	delete(f.objs, k)
	return ok, f.err
}

func (f *fakeKube) Annotate(_ context.Context, gvk schema.GroupVersionKind, ns, name string, annotations map[string]string, _ string) (bool, error) {
	for _, err := range []error{f.err, f.applyErr} {
		if err != nil {
			return false, err
		}
	}
	o, ok := f.objs[key(gvk, ns, name)]
	if !ok {
		return false, nil
	}
	o = o.DeepCopy()
	a := o.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	for k, v := range annotations {
		a[k] = v
	}
	o.SetAnnotations(a)
	f.objs[key(gvk, ns, name)] = o
	f.annotated = append(f.annotated, o.GetKind()+"/"+name)
	return true, nil
}

func (f *fakeKube) Refresh() {
	f.refreshed++
	for _, o := range f.objs {
		if o.GetKind() == "CustomResourceDefinition" && f.crdReads[o.GetName()] >= f.establishAfter {
			kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
			f.servesCRDs[kind] = true
		}
	}
}

const testManifest = `
apiVersion: v1
kind: ServiceAccount
metadata: {name: argocd-application-controller}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: applications.argoproj.io}
spec: {names: {kind: Application}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: appprojects.argoproj.io}
spec: {names: {kind: AppProject}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: argocd-application-controller}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-cm}
---
apiVersion: v1
kind: Secret
metadata: {name: argocd-secret}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: argocd-repo-server}
spec: {replicas: 1}
`

const testBootstrap = `
# the env's app-of-apps
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: dev-apps, namespace: argocd}
spec: {project: default, source: {repoURL: file:///repo.git, path: argocd/applications/dev}}
`

func testEnv() *config.Environment {
	return &config.Environment{Name: "dev", ArgoCD: config.ArgoCD{Namespace: "argocd", AppOfApps: "dev-apps", Timeout: config.Duration(time.Second)}}
}

func TestInstallOrderAndIdempotence(t *testing.T) {
	k := newFakeKube()
	manifest, err := decode([]byte(testManifest))
	require.NoError(t, err)
	apps, err := decode([]byte(testBootstrap))
	require.NoError(t, err)
	ctx := context.Background()

	out, err := install(ctx, k, testEnv(), manifest, apps)
	require.NoError(t, err)
	require.Equal(t, 11, out.Objects, "distinct objects: argocd-cm and argocd-secret are applied twice")
	require.Len(t, out.Created, 11, "everything is new on a first install")
	require.Empty(t, out.Updated)
	require.Len(t, out.Changed, 11)
	require.Equal(t, []string{
		"Namespace/argocd",
		"CustomResourceDefinition/applications.argoproj.io",
		"CustomResourceDefinition/appprojects.argoproj.io",
		"ClusterRole/argocd-application-controller",
		"ServiceAccount/argocd-application-controller",
		"ConfigMap/argocd-cm",
		"Secret/argocd-secret",
		"Deployment/argocd-repo-server",
		"ConfigMap/argocd-cm",
		"ConfigMap/argocd-cmd-params-cm",
		"AppProject/default",
		"Secret/argocd-secret",
		"Application/dev-apps",
	}, k.applied, "namespace, CRDs, cluster-wide objects, the rest, settings, then the app-of-apps")
	require.Positive(t, k.refreshed, "discovery is refreshed once CRDs are established")
	require.Equal(t, "argocd", k.objs[key(gvkDeployment, "argocd", "argocd-repo-server")].GetNamespace(), "namespaced objects land in the Argo CD namespace")
	secret := k.objs[key(gvkSecret, "argocd", "argocd-secret")]
	require.NotEmpty(t, secret.Object["data"].(map[string]any)["server.secretkey"])

	manifest, _ = decode([]byte(testManifest))
	apps, _ = decode([]byte(testBootstrap))
	k.applied = nil
	again, err := install(ctx, k, testEnv(), manifest, apps)
	require.NoError(t, err)
	require.Empty(t, again.Changed, "a rerun changes nothing (and keeps the server key)")
	require.NotContains(t, k.applied[len(k.applied)-2:], "Secret/argocd-secret")
}

func TestInstallFailsWhenCRDsNeverEstablish(t *testing.T) {
	k := newFakeKube()
	k.establishAfter = 1 << 30
	manifest, _ := decode([]byte(testManifest))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := install(ctx, k, testEnv(), manifest, nil)
	require.ErrorContains(t, err, "CRDs not established: applications.argoproj.io, appprojects.argoproj.io")
}

func TestOfficialManifestDecodes(t *testing.T) {
	path := officialManifest(t)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	objs, err := decode(b)
	require.NoError(t, err)
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
	}
	require.Equal(t, 3, kinds["CustomResourceDefinition"])
	require.Positive(t, kinds["Deployment"])
	require.Positive(t, kinds["StatefulSet"])
}

// officialManifest is install.yaml inside the argo-cd Go module this build uses.
func officialManifest(t *testing.T) string {
	t.Helper()
	p, err := ModuleManifest()
	require.NoError(t, err, "the argo-cd module is not in the module cache: run `go mod download github.com/argoproj/argo-cd/v2`")
	return p
}

func app(name, sync, health string, extra map[string]any) unstructured.Unstructured {
	status := map[string]any{"sync": map[string]any{"status": sync, "revision": "abc"}, "health": map[string]any{"status": health}}
	for k, v := range extra {
		status[k] = v
	}
	return unstructured.Unstructured{Object: map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": name, "namespace": "argocd"}, "status": status}}
}

func seed(k *fakeKube, objs ...unstructured.Unstructured) {
	for i := range objs {
		o := objs[i]
		k.objs[key(o.GroupVersionKind(), o.GetNamespace(), o.GetName())] = &o
	}
}

func TestWaitHealthy(t *testing.T) {
	k := newFakeKube()
	seed(k,
		app("dev-apps", "Synced", "Healthy", map[string]any{"resources": []any{
			map[string]any{"group": "argoproj.io", "kind": "Application", "name": "time-service-dev"}}}),
		app("time-service-dev", "Synced", "Healthy", nil),
		unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "argocd-repo-server", "namespace": "argocd"},
			"spec":     map[string]any{"replicas": int64(1)}, "status": map[string]any{"availableReplicas": int64(1), "updatedReplicas": int64(1)}}},
	)
	out, err := waitHealthy(context.Background(), k, "argocd", "dev-apps", time.Second, func([]string) {})
	require.NoError(t, err)
	require.Len(t, out.Apps, 2)
	require.Equal(t, "time-service-dev", out.Apps[1].Name)
}

func TestWaitReportsArgoCDsOwnMessages(t *testing.T) {
	for _, tc := range []struct {
		name  string
		objs  []unstructured.Unstructured
		wants []string
	}{
		{"app-of-apps missing", nil, []string{"dev-apps: not created yet"}},
		{"child missing", []unstructured.Unstructured{app("dev-apps", "Synced", "Healthy", map[string]any{"resources": []any{
			map[string]any{"group": "argoproj.io", "kind": "Application", "name": "time-service-dev"}}})},
			[]string{"time-service-dev: not created yet"}},
		{"degraded", []unstructured.Unstructured{app("dev-apps", "Synced", "Healthy", nil),
			app("time-service-dev", "Synced", "Degraded", map[string]any{"resources": []any{map[string]any{
				"kind": "Deployment", "name": "time-service", "health": map[string]any{"status": "Degraded",
					"message": `Deployment "time-service" exceeded its progress deadline`}}}})},
			[]string{`time-service-dev: Synced/Degraded (Deployment time-service: Deployment "time-service" exceeded its progress deadline)`}},
		{"comparison error", []unstructured.Unstructured{app("dev-apps", "Unknown", "Healthy", map[string]any{"conditions": []any{
			map[string]any{"type": "ComparisonError", "message": "repository not found"}}})},
			[]string{"dev-apps: Unknown/Healthy (ComparisonError: repository not found)"}},
		{"component not ready", []unstructured.Unstructured{app("dev-apps", "Synced", "Healthy", nil),
			{Object: map[string]any{"apiVersion": "apps/v1", "kind": "StatefulSet",
				"metadata": map[string]any{"name": "argocd-application-controller", "namespace": "argocd"},
				"spec":     map[string]any{"replicas": int64(1)}, "status": map[string]any{}}}},
			[]string{"StatefulSet argocd-application-controller: not ready"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newFakeKube()
			seed(k, tc.objs...)
			var beats [][]string
			_, err := waitHealthy(context.Background(), k, "argocd", "dev-apps", 600*time.Millisecond, func(p []string) { beats = append(beats, p) })
			require.Error(t, err)
			require.ErrorContains(t, err, "not Synced and Healthy after 600ms")
			for _, w := range tc.wants {
				require.ErrorContains(t, err, w)
				require.Contains(t, beats[0], w, "heartbeats carry the pending list")
			}
		})
	}
}

func TestEKSToken(t *testing.T) {
	c := sts.New(sts.Options{Region: "us-west-2", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	tok, err := EKSToken(context.Background(), c, "idp-prod")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(tok, "k8s-aws-v1."))
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, "k8s-aws-v1."))
	require.NoError(t, err, "base64url without padding")
	u, err := url.Parse(string(raw))
	require.NoError(t, err)
	require.Equal(t, "sts.us-west-2.amazonaws.com", u.Host)
	q := u.Query()
	require.Equal(t, "GetCallerIdentity", q.Get("Action"))
	require.Equal(t, "60", q.Get("X-Amz-Expires"))
	require.Contains(t, q.Get("X-Amz-SignedHeaders"), "x-k8s-aws-id", "the token is bound to the cluster name")
	require.NotContains(t, tok, "SECRET")
}

func appAt(revision, sync, health string, reconciled time.Time, conds ...map[string]any) unstructured.Unstructured {
	extra := map[string]any{"reconciledAt": reconciled.UTC().Format(time.RFC3339),
		"summary": map[string]any{"images": []any{"registry/idp/localtime:v1.2.3"}}}
	if len(conds) > 0 {
		var cs []any
		for _, c := range conds {
			cs = append(cs, c)
		}
		extra["conditions"] = cs
	}
	a := app("time-service-prod", sync, health, extra)
	_ = unstructured.SetNestedField(a.Object, revision, "status", "sync", "revision")
	return a
}

func TestWaitApp(t *testing.T) {
	since := time.Now().Add(-time.Minute)
	in := WaitAppInput{Snapshot: config.Snapshot{Env: config.Environment{Name: "prod"}}, App: "time-service-prod", Commit: "c0ffee", Since: since, Timeout: 700 * time.Millisecond}
	for _, tc := range []struct {
		name    string
		app     unstructured.Unstructured
		errType string
		errMsg  string
	}{
		{"healthy at our commit", appAt("c0ffee", "Synced", "Healthy", time.Now()), "", ""},
		{"healthy at another commit", appAt("beef", "Synced", "Healthy", time.Now()), ErrNotApplied, "has not run, so it is neither judged nor rolled back"},
		{"comparison error at another commit", appAt("beef", "Unknown", "Healthy", time.Now(), map[string]any{"type": "ComparisonError", "message": "helm template failed"}), ErrHealthTimeout, "helm template failed"},
		{"status older than our commit", appAt("c0ffee", "Synced", "Healthy", since.Add(-time.Hour)), ErrHealthTimeout, "after 700ms"},
		{"comparison error", appAt("c0ffee", "Synced", "Healthy", time.Now(), map[string]any{"type": "ComparisonError", "message": "rpc error"}), ErrHealthTimeout, "ComparisonError: rpc error"},
		{"progressing", appAt("c0ffee", "Synced", "Progressing", time.Now()), ErrHealthTimeout, "Synced/Progressing"},
		{"degraded at our commit", func() unstructured.Unstructured {
			a := appAt("c0ffee", "Synced", "Degraded", time.Now())
			_ = unstructured.SetNestedField(a.Object, `Deployment "time-service" exceeded its progress deadline`, "status", "health", "message")
			return a
		}(), ErrDegraded, "exceeded its progress deadline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newFakeKube()
			seed(k, tc.app)
			out, err := waitApp(context.Background(), k, "argocd", in, exactly(in.Commit), func(AppStatus) {})
			if tc.errType == "" {
				require.NoError(t, err)
				require.Equal(t, "Healthy", out.Status.Health)
				require.Equal(t, []string{"registry/idp/localtime:v1.2.3"}, out.Images)
				return
			}
			require.Error(t, err)
			require.True(t, failIs(err, tc.errType), "want %s, got %v", tc.errType, err)
			require.ErrorContains(t, err, tc.errMsg)
		})
	}
}

func failIs(err error, typ string) bool { return fail.Is(err, typ) }

func TestSplitImage(t *testing.T) {
	for img, want := range map[string][2]string{
		"864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:v1.2.3": {"864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/localtime", "v1.2.3"},
		"localhost:5000/idp/version":                                        {"localhost:5000/idp/version", ""},
		"localhost:5000/idp/version:sha-abc1234":                            {"localhost:5000/idp/version", "sha-abc1234"},
	} {
		name, tag := splitImage(img)
		require.Equal(t, want, [2]string{name, tag}, img)
	}
}

func TestWaitAppDegradedMustLast(t *testing.T) {
	k := newFakeKube()
	seed(k, appAt("c0ffee", "Synced", "Degraded", time.Now()))
	in := WaitAppInput{Snapshot: config.Snapshot{Env: config.Environment{Name: "staging"}}, App: "time-service-prod", Commit: "c0ffee", Since: time.Now().Add(-time.Minute),
		Timeout: 5 * time.Second, DegradedFor: 600 * time.Millisecond}
	start := time.Now()
	_, err := waitApp(context.Background(), k, "argocd", in, exactly(in.Commit), func(AppStatus) {})
	require.True(t, failIs(err, ErrDegraded), "%v", err)
	require.GreaterOrEqual(t, time.Since(start), in.DegradedFor, "a Degraded that did not last is not a failure yet")
}

func TestWaitAppWantsTheImage(t *testing.T) {
	k := newFakeKube()
	seed(k, appAt("c0ffee", "Synced", "Healthy", time.Now()))
	in := WaitAppInput{Snapshot: config.Snapshot{Env: config.Environment{Name: "prod"}}, App: "time-service-prod", Commit: "c0ffee", Since: time.Now().Add(-time.Minute),
		Timeout: 300 * time.Millisecond, Image: "registry/idp/localtime:v1.2.4"}
	_, err := waitApp(context.Background(), k, "argocd", in, exactly(in.Commit), func(AppStatus) {})
	require.True(t, failIs(err, ErrHealthTimeout), "Synced at the commit but still running the old image is not done: %v", err)
	in.Image = "registry/idp/localtime:v1.2.3"
	_, err = waitApp(context.Background(), k, "argocd", in, exactly(in.Commit), func(AppStatus) {})
	require.NoError(t, err)
}
