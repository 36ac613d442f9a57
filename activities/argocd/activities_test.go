package argocd

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/alexpermiakov/idp/internal/checkout"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// fakeRepo is a checkout of the platform repository: the same directory for every commit.
type fakeRepo string

func (r fakeRepo) Checkout(context.Context, string) (string, error) { return string(r), nil }

func (r fakeRepo) Lineage(context.Context, string, string, string) (checkout.Lineage, error) {
	return checkout.Lineage{}, errors.New("fakeRepo has no history")
}

// fakeDigests resolves repo:tag from a map; an unknown tag is fail.NotFound, as in ECR.
type fakeDigests map[string]string

func (d fakeDigests) Digest(_ context.Context, repo, tag string) (string, error) {
	if dg, ok := d[repo+":"+tag]; ok {
		return dg, nil
	}
	return "", fail.New(fail.NotFound, "no tag %s in %s", tag, repo)
}

// fakeSecrets is Secrets Manager: secrets by name, or err for every read.
type fakeSecrets struct {
	values map[string]string
	err    error
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	v, ok := f.values[awssdk.ToString(in.SecretId)]
	if !ok {
		return nil, &smtypes.ResourceNotFoundException{Message: awssdk.String("Secrets Manager can't find the specified secret.")}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: &v}, nil
}

// fakeParams is SSM Parameter Store: SecureString parameters by name, or err for every read.
type fakeParams struct {
	values map[string]string
	err    error
}

func (f *fakeParams) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	if !awssdk.ToBool(in.WithDecryption) {
		return nil, errors.New("a SecureString read without decryption")
	}
	v, ok := f.values[awssdk.ToString(in.Name)]
	if !ok {
		return nil, &ssmtypes.ParameterNotFound{}
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Value: &v}}, nil
}

// testbed is the activities over fakes, with the fakes to seed and inspect.
type testbed struct {
	a       *Activities
	kube    *fakeKube
	secrets *fakeSecrets
	params  *fakeParams
	// reached counts the activities' trips to a cluster.
	reached int
}

func newTestbed() *testbed {
	tb := &testbed{kube: newFakeKube(), secrets: &fakeSecrets{values: map[string]string{}}, params: &fakeParams{values: map[string]string{}}}
	tb.kube.servesCRDs["Application"] = true
	tb.a = New(Deps{Digests: fakeDigests{"idp/localtime:v1.2.3": "sha256:aaa", "idp/localtime:sha-abc1234": "sha256:aaa"}})
	tb.a.kubeFor = func(context.Context, *config.Environment) (kube, error) {
		tb.reached++
		return tb.kube, nil
	}
	tb.a.secretsFor = func(context.Context, config.AWS) (secretReaders, error) {
		return secretReaders{secrets: tb.secrets, params: tb.params}, nil
	}
	return tb
}

func testSnapshot() config.Snapshot {
	return config.Snapshot{Env: *testEnv(), Repository: config.Repository{URL: "https://github.com/alexpermiakov/idp.git"},
		Tooling: config.Tooling{Repositories: map[string]string{"time-service": "idp/localtime"}}}
}

// requireFailure checks err is an application error of type typ, or with typ "" that err is
// retryable: no application error at all.
func requireFailure(t *testing.T, err error, typ string) {
	t.Helper()
	require.Error(t, err)
	if typ == "" {
		var app *temporal.ApplicationError
		require.False(t, errors.As(err, &app), "a transient error must stay retryable: %v", err)
		return
	}
	require.True(t, fail.Is(err, typ), "want %s, got %v", typ, err)
}

func TestActivitiesRejectAnEmptySnapshot(t *testing.T) {
	ctx := context.Background()
	for name, call := range map[string]func(a *Activities) error{
		"InstallArgoCD": func(a *Activities) error { _, err := a.InstallArgoCD(ctx, InstallInput{Commit: "c0ffee"}); return err },
		"WaitArgoCD":    func(a *Activities) error { _, err := a.WaitArgoCD(ctx, WaitInput{}); return err },
		"RefreshApp":    func(a *Activities) error { return a.RefreshApp(ctx, AppInput{App: "time-service-dev"}) },
		"WaitApp":       func(a *Activities) error { _, err := a.WaitApp(ctx, WaitAppInput{App: "time-service-dev"}); return err },
		"Passed": func(a *Activities) error {
			_, err := a.Passed(ctx, PassedInput{App: "time-service-dev", Service: "time-service"})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tb := newTestbed()
			err := call(tb.a)
			requireFailure(t, err, fail.Config)
			require.ErrorContains(t, err, "start the run again")
			require.Zero(t, tb.reached, "no cluster is reached without an env")
		})
	}
}

func TestRefreshApp(t *testing.T) {
	for _, tc := range []struct {
		name  string
		seed  []unstructured.Unstructured
		err   error
		check func(t *testing.T, tb *testbed, err error)
	}{
		{"sets the refresh annotation", []unstructured.Unstructured{app("time-service-dev", "Synced", "Healthy", nil)}, nil,
			func(t *testing.T, tb *testbed, err error) {
				require.NoError(t, err)
				obj := tb.kube.objs[key(gvkApp, "argocd", "time-service-dev")]
				require.Equal(t, "normal", obj.GetAnnotations()["argocd.argoproj.io/refresh"])
				require.Equal(t, "Healthy", obj.Object["status"].(map[string]any)["health"].(map[string]any)["status"], "the rest of the Application stays")
			}},
		{"a missing Application has nothing to refresh", nil, nil,
			func(t *testing.T, tb *testbed, err error) {
				require.NoError(t, err)
				require.Empty(t, tb.kube.applied, "no Application without a spec is created")
				require.Empty(t, tb.kube.annotated)
				require.Empty(t, tb.kube.objs)
			}},
		{"forbidden is the user's to fix", nil, apierrors.NewForbidden(schema.GroupResource{Group: "argoproj.io", Resource: "applications"}, "time-service-dev", errors.New("RBAC")),
			func(t *testing.T, _ *testbed, err error) { requireFailure(t, err, fail.AccessDenied) }},
		{"an unavailable API server is retried", nil, apierrors.NewServiceUnavailable("etcd"),
			func(t *testing.T, _ *testbed, err error) { requireFailure(t, err, "") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := newTestbed()
			seed(tb.kube, tc.seed...)
			tb.kube.err = tc.err
			err := tb.a.RefreshApp(context.Background(), AppInput{Snapshot: testSnapshot(), App: "time-service-dev"})
			tc.check(t, tb, err)
		})
	}
}

func TestWaitAppActivity(t *testing.T) {
	since := time.Now().Add(-time.Minute)
	degraded := appAt("c0ffee", "Synced", "Degraded", time.Now())
	_ = unstructured.SetNestedField(degraded.Object, "Back-off pulling image", "status", "health", "message")
	for _, tc := range []struct {
		name    string
		app     unstructured.Unstructured
		errType string
		errMsg  string
	}{
		{"Synced and Healthy at the commit", appAt("c0ffee", "Synced", "Healthy", time.Now()), "", ""},
		{"Degraded at the commit", degraded, ErrDegraded, "time-service-prod in dev is Degraded at c0ffee: Back-off pulling image"},
		{"never brought to the commit", appAt("beef", "Synced", "Healthy", time.Now()), ErrNotApplied, "Argo CD has not brought time-service-prod in dev to c0ffee after 300ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := newTestbed()
			seed(tb.kube, tc.app)
			out, err := tb.a.WaitApp(context.Background(), WaitAppInput{Snapshot: testSnapshot(), App: "time-service-prod",
				Commit: "c0ffee", Since: since, Timeout: 300 * time.Millisecond})
			require.Equal(t, "time-service-prod", out.Status.Name)
			if tc.errType == "" {
				require.NoError(t, err)
				require.Equal(t, "Healthy", out.Status.Health)
				require.Equal(t, []string{"registry/idp/localtime:v1.2.3"}, out.Images)
				return
			}
			requireFailure(t, err, tc.errType)
			require.ErrorContains(t, err, tc.errMsg)
		})
	}
}

func TestWaitAppRefreshesFirst(t *testing.T) {
	since := time.Now().Add(-time.Minute)
	for _, refresh := range []bool{true, false} {
		t.Run("refresh "+strconv.FormatBool(refresh), func(t *testing.T) {
			t.Parallel()
			tb := newTestbed()
			seed(tb.kube, appAt("c0ffee", "Synced", "Healthy", time.Now()))
			_, err := tb.a.WaitApp(context.Background(), WaitAppInput{Snapshot: testSnapshot(), App: "time-service-prod",
				Commit: "c0ffee", Since: since, Timeout: time.Second, Refresh: refresh})
			require.NoError(t, err)
			got := tb.kube.objs[key(gvkApp, "argocd", "time-service-prod")].GetAnnotations()["argocd.argoproj.io/refresh"]
			if refresh {
				require.Equal(t, "normal", got, "Refresh asks Argo CD for a refresh before the wait")
			} else {
				require.Empty(t, got, "an app already at the commit is not refreshed")
			}
		})
	}
	t.Run("a refresh the API does not answer is left to the wait", func(t *testing.T) {
		tb := newTestbed()
		seed(tb.kube, appAt("c0ffee", "Synced", "Healthy", time.Now()))
		tb.kube.applyErr = apierrors.NewServiceUnavailable("etcd")
		_, err := tb.a.WaitApp(context.Background(), WaitAppInput{Snapshot: testSnapshot(), App: "time-service-prod",
			Commit: "c0ffee", Since: since, Timeout: time.Second, Refresh: true})
		require.NoError(t, err)
	})
}

func TestWaitAppWithRoot(t *testing.T) {
	since := time.Now().Add(-time.Minute)
	// rootedAs is an app-of-apps named prod-apps at revision, in a sync state as a whole and
	// another for its Application time-service-prod.
	rootedAs := func(revision, sync, health, appSync string) unstructured.Unstructured {
		a := appAt(revision, sync, health, time.Now())
		a.SetName("prod-apps")
		_ = unstructured.SetNestedSlice(a.Object, []any{
			map[string]any{"group": "argoproj.io", "kind": "Application", "namespace": "argocd", "name": "other-service-prod", "status": sync},
			map[string]any{"group": "argoproj.io", "kind": "Application", "namespace": "argocd", "name": "time-service-prod", "status": appSync},
		}, "status", "resources")
		return a
	}
	rooted := func(revision, health string) unstructured.Unstructured {
		return rootedAs(revision, "Synced", health, "Synced")
	}
	wait := func(tb *testbed, refresh bool) (WaitAppOutput, error) {
		return tb.a.WaitApp(context.Background(), WaitAppInput{Snapshot: testSnapshot(), App: "time-service-prod", Root: "prod-apps",
			Commit: "c0ffee", Since: since, Timeout: 300 * time.Millisecond, Image: "registry/idp/localtime:v1.2.3", Refresh: refresh})
	}
	t.Run("the app-of-apps, then the app", func(t *testing.T) {
		t.Parallel()
		tb := newTestbed()
		seed(tb.kube, rooted("c0ffee", "Healthy"), appAt("c0ffee", "Synced", "Healthy", time.Now()))
		out, err := wait(tb, true)
		require.NoError(t, err)
		require.Equal(t, "time-service-prod", out.Status.Name, "the output is the app's")
		require.Equal(t, []string{"registry/idp/localtime:v1.2.3"}, out.Images)
		for _, name := range []string{"prod-apps", "time-service-prod"} {
			require.Equal(t, "normal", tb.kube.objs[key(gvkApp, "argocd", name)].GetAnnotations()["argocd.argoproj.io/refresh"], "%s refreshed", name)
		}
	})
	t.Run("an app-of-apps not at the commit fails the wait before the app is asked", func(t *testing.T) {
		t.Parallel()
		tb := newTestbed()
		seed(tb.kube, rooted("beef", "Healthy"), appAt("c0ffee", "Synced", "Healthy", time.Now()))
		out, err := wait(tb, false)
		requireFailure(t, err, ErrNotApplied)
		require.ErrorContains(t, err, "Argo CD has not brought prod-apps in dev to c0ffee")
		require.Equal(t, "prod-apps", out.Status.Name, "the wait stopped at the app-of-apps")
	})
	t.Run("an app-of-apps still applying others' changes has applied the app's", func(t *testing.T) {
		t.Parallel()
		tb := newTestbed()
		seed(tb.kube, rootedAs("c0ffee", "OutOfSync", "Healthy", "Synced"), appAt("c0ffee", "Synced", "Healthy", time.Now()))
		out, err := wait(tb, false)
		require.NoError(t, err, "a wave keeps the app-of-apps OutOfSync; the app's own definition is what the wait needs applied")
		require.Equal(t, "time-service-prod", out.Status.Name)
	})
	t.Run("an app-of-apps that has not applied the app's definition holds the wait", func(t *testing.T) {
		t.Parallel()
		tb := newTestbed()
		seed(tb.kube, rootedAs("c0ffee", "OutOfSync", "Healthy", "OutOfSync"), appAt("c0ffee", "Synced", "Healthy", time.Now()))
		out, err := wait(tb, false)
		requireFailure(t, err, ErrHealthTimeout)
		require.Equal(t, "prod-apps", out.Status.Name, "the wait stopped at the app-of-apps")
	})
	t.Run("the app's failure is the app's", func(t *testing.T) {
		t.Parallel()
		tb := newTestbed()
		seed(tb.kube, rooted("c0ffee", "Healthy"), appAt("c0ffee", "Synced", "Degraded", time.Now()))
		_, err := tb.a.WaitApp(context.Background(), WaitAppInput{Snapshot: testSnapshot(), App: "time-service-prod", Root: "prod-apps",
			Commit: "c0ffee", Since: since, Timeout: 300 * time.Millisecond})
		requireFailure(t, err, ErrDegraded)
		require.ErrorContains(t, err, "time-service-prod in dev is Degraded at c0ffee")
	})
}

// running is time-service-dev in a sync and health state, running images.
func running(sync, health string, images ...any) unstructured.Unstructured {
	return app("time-service-dev", sync, health, map[string]any{"summary": map[string]any{"images": images}})
}

func TestPassed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		seed    []unstructured.Unstructured
		service string
		passed  bool
		reason  string
		errType string
	}{
		{"Healthy with the digest", []unstructured.Unstructured{running("Synced", "Healthy", "registry/idp/localtime:v1.2.3")},
			"time-service", true, "time-service-dev runs registry/idp/localtime:v1.2.3, Healthy", ""},
		{"Healthy with the digest under another tag", []unstructured.Unstructured{running("Synced", "Healthy", "registry/idp/other:v9", "registry/idp/localtime:sha-abc1234")},
			"time-service", true, "time-service-dev runs registry/idp/localtime:sha-abc1234, Healthy", ""},
		{"Healthy with another digest", []unstructured.Unstructured{running("Synced", "Healthy", "registry/idp/localtime:v1.2.3")},
			"time-service", false, "time-service-dev runs registry/idp/localtime:v1.2.3, which is sha256:aaa", ""},
		{"Degraded", []unstructured.Unstructured{running("Synced", "Degraded", "registry/idp/localtime:v1.2.3")},
			"time-service", false, "it is time-service-dev: Synced/Degraded", ""},
		{"OutOfSync", []unstructured.Unstructured{running("OutOfSync", "Healthy", "registry/idp/localtime:v1.2.3")},
			"time-service", false, "it is time-service-dev: OutOfSync/Healthy", ""},
		{"a tag the registry does not have", []unstructured.Unstructured{running("Synced", "Healthy", "registry/idp/localtime:v0.0.1")},
			"time-service", false, "time-service-dev runs no image of idp/localtime", ""},
		{"no image of the service", []unstructured.Unstructured{running("Synced", "Healthy", "registry/idp/other:v1.2.3")},
			"time-service", false, "time-service-dev runs no image of idp/localtime", ""},
		{"pinned by digest: what runs says it, whatever the tag says now", []unstructured.Unstructured{running("Synced", "Healthy", "registry/idp/localtime:v0.0.1@sha256:aaa")},
			"time-service", true, "time-service-dev runs registry/idp/localtime:v0.0.1@sha256:aaa, Healthy", ""},
		{"pinned to another digest", []unstructured.Unstructured{running("Synced", "Healthy", "registry/idp/localtime:v1.2.3@sha256:ccc")},
			"time-service", false, "time-service-dev runs registry/idp/localtime:v1.2.3@sha256:ccc, which is sha256:ccc", ""},
		{"no such Application", nil, "time-service", false, "time-service-dev does not exist in dev", ""},
		{"unknown service", nil, "billing", false, "", fail.Config},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := newTestbed()
			seed(tb.kube, tc.seed...)
			digest := "sha256:aaa"
			if tc.name == "Healthy with another digest" {
				digest = "sha256:bbb"
			}
			out, err := tb.a.Passed(context.Background(), PassedInput{Snapshot: testSnapshot(), App: "time-service-dev", Service: tc.service, Digest: digest})
			if tc.errType != "" {
				requireFailure(t, err, tc.errType)
				return
			}
			require.NoError(t, err)
			require.Equal(t, PassedOutput{Passed: tc.passed, Reason: tc.reason}, out)
		})
	}
}

func TestRepoCredentialsThroughSecretReaders(t *testing.T) {
	const url = "https://github.com/alexpermiakov/idp.git"
	for _, tc := range []struct {
		name     string
		creds    *config.RepoCredentials
		smErr    error
		ssmErr   error
		password string // "" with errType "": no Secret
		errType  string
	}{
		{"none configured", nil, nil, nil, "", ""},
		{"Secrets Manager", &config.RepoCredentials{SecretsManager: "idp/git"}, nil, nil, "ghs_secret", ""},
		{"SSM", &config.RepoCredentials{SSMParameter: "/idp/git"}, nil, nil, "ghs_param", ""},
		{"missing secret", &config.RepoCredentials{SecretsManager: "idp/missing"}, nil, nil, "", fail.Config},
		{"missing parameter", &config.RepoCredentials{SSMParameter: "/idp/missing"}, nil, nil, "", fail.Config},
		{"empty token", &config.RepoCredentials{SecretsManager: "idp/empty"}, nil, nil, "", fail.Config},
		{"access denied", &config.RepoCredentials{SecretsManager: "idp/git"},
			&smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}, nil, "", fail.AccessDenied},
		{"KMS key not usable", &config.RepoCredentials{SSMParameter: "/idp/git"}, nil, &ssmtypes.InvalidKeyId{}, "", fail.AccessDenied},
		{"throttled", &config.RepoCredentials{SSMParameter: "/idp/git"}, nil,
			&smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := newTestbed()
			tb.secrets.values = map[string]string{"idp/git": "ghs_secret\n", "idp/empty": " \n"}
			tb.params.values = map[string]string{"/idp/git": "ghs_param"}
			tb.secrets.err, tb.params.err = tc.smErr, tc.ssmErr
			env := testEnv()
			env.ArgoCD.RepoCredentials = tc.creds
			s, err := tb.a.repoCredentials(context.Background(), env, url)
			switch {
			case tc.smErr != nil || tc.ssmErr != nil || tc.errType != "":
				requireFailure(t, err, tc.errType)
				require.NotContains(t, err.Error(), "ghs_", "the token never reaches an error")
			case tc.password == "":
				require.NoError(t, err)
				require.Nil(t, s, "no credentials configured: a public or local repository")
			default:
				require.NoError(t, err)
				require.Equal(t, "argocd", s.GetNamespace())
				require.Equal(t, "repository", s.GetLabels()["argocd.argoproj.io/secret-type"])
				require.Equal(t, map[string]any{"type": "git", "url": url, "username": "x-access-token", "password": tc.password}, s.Object["stringData"])
			}
		})
	}
}

// installFixture is an install manifest served over HTTP and a checkout with dev's bootstrap.
func installFixture(t *testing.T, tb *testbed) config.Snapshot {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2.14.21/install.yaml" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(testManifest))
	}))
	t.Cleanup(srv.Close)
	tb.a.http = srv.Client()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "argocd"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "argocd", "bootstrap-dev.yaml"), []byte(testBootstrap), 0o644))
	tb.a.repo = fakeRepo(dir)
	tb.secrets.values = map[string]string{"idp/git": "ghs_secret"}
	snap := testSnapshot()
	snap.Env.ArgoCD.Version = "v2.14.21"
	snap.Env.ArgoCD.InstallManifest = srv.URL + "/v2.14.21/install.yaml"
	snap.Env.ArgoCD.RepoCredentials = &config.RepoCredentials{SecretsManager: "idp/git"}
	return snap
}

func TestInstallArgoCD(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(snap *config.Snapshot, tb *testbed)
		errType string
		check   func(t *testing.T, tb *testbed, out InstallOutput)
	}{
		{"installs with the repository credentials", func(*config.Snapshot, *testbed) {}, "",
			func(t *testing.T, tb *testbed, out InstallOutput) {
				require.Equal(t, "v2.14.21", out.Version)
				require.Equal(t, 12, out.Objects, "distinct objects: argocd-cm and argocd-secret are applied twice")
				require.Contains(t, out.Changed, "Secret/"+repoSecretName)
				require.Equal(t, "Application/dev-apps", tb.kube.applied[len(tb.kube.applied)-1], "the app-of-apps goes last")
				creds := tb.kube.objs[key(gvkSecret, "argocd", repoSecretName)]
				require.Equal(t, "ghs_secret", creds.Object["stringData"].(map[string]any)["password"])
			}},
		{"an unreleased version", func(snap *config.Snapshot, _ *testbed) {
			snap.Env.ArgoCD.InstallManifest = snap.Env.ArgoCD.InstallManifest[:len(snap.Env.ArgoCD.InstallManifest)-len("v2.14.21/install.yaml")] + "v9.9.9/install.yaml"
		}, fail.Config, nil},
		{"a preview installs its base's app-of-apps as its own, at the pull request's head", func(snap *config.Snapshot, _ *testbed) {
			snap.Env.Name, snap.Env.ArgoCD.AppOfApps = "dev-pr-7", "dev-pr-7-apps"
			snap.Env.Preview = &config.Preview{Base: "dev", PR: 7, Branch: "feature/x", BaseAppOfApps: "dev-apps", NamespacePrefix: "pr-7-"}
		}, "", func(t *testing.T, tb *testbed, _ InstallOutput) {
			require.Equal(t, "Application/dev-pr-7-apps", tb.kube.applied[len(tb.kube.applied)-1])
			app := tb.kube.objs[key(gvkApp, "argocd", "dev-pr-7-apps")]
			require.NotNil(t, app)
			rev, _, _ := unstructured.NestedString(app.Object, "spec", "source", "targetRevision")
			require.Equal(t, "feature/x", rev)
			path, _, _ := unstructured.NestedString(app.Object, "spec", "source", "path")
			require.Equal(t, "argocd/applications/dev", path, "the base's Applications, as the pull request holds them")
			require.Equal(t, map[string]string{"idp/preview-of": "dev", "idp/pull-request": "7"}, app.GetLabels())
			require.Nil(t, tb.kube.objs[key(gvkApp, "argocd", "dev-apps")], "the base's app-of-apps is not touched")
		}},
		{"a preview whose base file lacks the base's app-of-apps", func(snap *config.Snapshot, _ *testbed) {
			snap.Env.Name, snap.Env.ArgoCD.AppOfApps = "dev-pr-7", "dev-pr-7-apps"
			snap.Env.Preview = &config.Preview{Base: "dev", PR: 7, Branch: "feature/x", BaseAppOfApps: "renamed-apps"}
		}, fail.Config, nil},
		{"no bootstrap file for the env", func(snap *config.Snapshot, _ *testbed) { snap.Env.Name = "qa" }, fail.Config, nil},
		{"a missing repository token", func(_ *config.Snapshot, tb *testbed) { tb.secrets.values = nil }, fail.Config, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := newTestbed()
			tb.kube.servesCRDs = map[string]bool{} // served once the install's CRDs are established
			snap := installFixture(t, tb)
			tc.edit(&snap, tb)
			out, err := tb.a.InstallArgoCD(context.Background(), InstallInput{Snapshot: snap, Commit: "c0ffee"})
			if tc.errType != "" {
				requireFailure(t, err, tc.errType)
				require.Empty(t, tb.kube.applied, "nothing is applied when the inputs are wrong")
				return
			}
			require.NoError(t, err)
			tc.check(t, tb, out)
		})
	}
}

func TestWaitArgoCDActivity(t *testing.T) {
	tb := newTestbed()
	seed(tb.kube, app("dev-apps", "Synced", "Healthy", nil))
	out, err := tb.a.WaitArgoCD(context.Background(), WaitInput{Snapshot: testSnapshot()})
	require.NoError(t, err)
	require.Equal(t, []AppStatus{{Name: "dev-apps", Sync: "Synced", Health: "Healthy", Revision: "abc"}}, out.Apps)

	tb.kube.err = apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "", errors.New("RBAC"))
	_, err = tb.a.WaitArgoCD(context.Background(), WaitInput{Snapshot: testSnapshot()})
	requireFailure(t, err, fail.AccessDenied)
}
