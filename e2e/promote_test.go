package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/alexpermiakov/idp/cmd/sandbox/stack"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/manifest"
	"github.com/alexpermiakov/idp/internal/metrics"
	"github.com/alexpermiakov/idp/internal/observe"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

var appsGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

// kubeConfig is the REST configuration of env's cluster.
func kubeConfig(t *testing.T, cfg *config.Config, env string) *rest.Config {
	t.Helper()
	e, err := cfg.Env(env)
	require.NoError(t, err)
	rc, err := clientcmd.BuildConfigFromFlags("", e.ArgoCD.Kubeconfig)
	require.NoError(t, err)
	return rc
}

// getApp reads an Argo CD Application from env's cluster.
func getApp(t *testing.T, cfg *config.Config, env, name string) *unstructured.Unstructured {
	t.Helper()
	dc, err := dynamic.NewForConfig(kubeConfig(t, cfg, env))
	require.NoError(t, err)
	app, err := dc.Resource(appsGVR).Namespace("argocd").Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return app
}

// application reads an Argo CD Application's sync revision and health in env's cluster.
func application(t *testing.T, cfg *config.Config, env, name string) (revision, sync, health string) {
	t.Helper()
	app := getApp(t, cfg, env, name)
	revision, _, _ = unstructuredString(app.Object, "status", "sync", "revision")
	if revs, ok := app.Object["status"].(map[string]any)["sync"].(map[string]any)["revisions"].([]any); ok && revision == "" && len(revs) > 0 {
		revision, _ = revs[0].(string) // a multi-source Application has one revision per source
	}
	sync, _, _ = unstructuredString(app.Object, "status", "sync", "status")
	health, _, _ = unstructuredString(app.Object, "status", "health", "status")
	return revision, sync, health
}

func unstructuredString(m map[string]any, path ...string) (string, bool, error) {
	for i, p := range path {
		v, ok := m[p]
		if !ok {
			return "", false, nil
		}
		if i == len(path)-1 {
			s, _ := v.(string)
			return s, true, nil
		}
		if m, ok = v.(map[string]any); !ok {
			return "", false, nil
		}
	}
	return "", false, nil
}

// pinned is the image a manifest pins on the platform branch.
func pinned(t *testing.T, cfg *config.Config, env, service string) string {
	t.Helper()
	bare := strings.TrimPrefix(cfg.Repository.URL, "file://")
	out, err := exec.Command("git", "--git-dir", bare, "show", "main:"+policy.ManifestPath(env, service)).Output()
	require.NoError(t, err)
	img, err := manifest.Image(out)
	require.NoError(t, err)
	return img
}

// sandboxCLI runs bin/sandbox on the test's stack. Pushes deliver no ECR push event: these
// tests promote what they push by hand (handsoff_test.go delivers events with sandboxEvents).
func sandboxCLI(t *testing.T, s *stack.Stack, args ...string) string {
	t.Helper()
	if len(args) > 1 && args[0] == "image" && args[1] == "push" {
		args = append(args, "--no-event")
	}
	return sandboxEvents(t, s, args...)
}

// sandboxEvents runs bin/sandbox on the test's stack as it is: a push delivers its event.
func sandboxEvents(t *testing.T, s *stack.Stack, args ...string) string {
	t.Helper()
	bin, _ := filepath.Abs("../bin/sandbox")
	cmd := exec.Command(bin, append([]string{"--dir", s.Dir()}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "sandbox %v:\n%s", args, out)
	return string(out)
}

func promote(t *testing.T, cfg *config.Config, s *stack.Stack) {
	code, out := starter(t, "watch", "bootstrap-prod")
	require.Equal(t, 0, code, out)

	// Two services promoted into one env at the same moment: each commit lands on a branch
	// that the other has moved on, so Argo CD may sync the later commit first. Both steps must
	// be verified at that later commit (it still holds each image), with no timeout and no
	// rollback of a healthy release.
	t.Run("two services promoted into dev at once both land", func(t *testing.T) {
		for round, tags := range [][2]string{{"sha-2b3c4d5", "sha-3c4d5e6"}, {"sha-4d5e6f7", "sha-5e6f708"}} {
			sandboxCLI(t, s, "image", "push", "time-service", tags[0])
			sandboxCLI(t, s, "image", "push", "version-service", tags[1])
			ids := []string{api.PromoteID("time-service", tags[0]), api.PromoteID("version-service", tags[1])}
			code, out := starter(t, "promote", "--service", "time-service", "--tag", tags[0], "--as", "alice")
			require.Equal(t, 0, code, out)
			code, out = starter(t, "promote", "--service", "version-service", "--tag", tags[1], "--as", "alice")
			require.Equal(t, 0, code, out)
			for i, id := range ids {
				code, out := starter(t, "watch", id)
				require.Equal(t, 0, code, "round %d: %s failed: %s", round, id, out)
				st := status(t, id)
				require.Equal(t, api.EnvDone, st.Environments[0].State, "round %d: %s", round, id)
				service := []string{"time-service", "version-service"}[i]
				require.Contains(t, pinned(t, cfg, "dev", service), ":"+tags[i]+"@sha256:", "round %d: %s keeps its image", round, service)
			}
		}
	})

	t.Run("a sha tag goes to dev", func(t *testing.T) {
		sandboxCLI(t, s, "image", "push", "time-service", "sha-1a2b3c4")
		code, out := starter(t, "promote", "--service", "time-service", "--tag", "sha-1a2b3c4", "--wait", "--as", "alice")
		require.Equal(t, 0, code, out)
		st := status(t, "promote-time-service-sha-1a2b3c4")
		require.Equal(t, api.StageDone, st.Stage)
		require.Len(t, st.Environments, 1)
		dev := st.Environments[0]
		require.Equal(t, api.EnvDone, dev.State)
		require.Contains(t, dev.Image, "/idp/localtime:sha-1a2b3c4@sha256:", "pinned by tag and digest")
		require.True(t, strings.HasSuffix(dev.Image, "@"+st.Digest), dev.Image)
		require.Equal(t, dev.Image, pinned(t, cfg, "dev", "time-service"))
		rev, sync, health := application(t, cfg, "dev", "time-service-dev")
		require.Equal(t, []string{dev.Commit, "Synced", "Healthy"}, []string{rev, sync, health})
	})

	t.Run("bad input starts nothing", func(t *testing.T) {
		code, out := starter(t, "promote", "--service", "time-service", "--tag", "latest")
		require.Equal(t, 2, code, out)
		require.Contains(t, out, "matches no environment's entry pattern")
		code, out = starter(t, "promote", "--service", "time-service", "--tag", "v9.9.9", "--to", "dev")
		require.Equal(t, 2, code, out)
		require.Contains(t, out, "comes before staging")
		code, out = starter(t, "promote", "--service", "time-service", "--tag", "sha-deadbee", "--wait")
		require.Equal(t, 2, code, "a tag missing from ECR is refused before anything starts: %s", out)
		require.Contains(t, out, ":sha-deadbee is not in ECR")
		require.Contains(t, out, "push it first")
	})

	t.Run("a release goes through staging and waits in prod for another person", func(t *testing.T) {
		sandboxCLI(t, s, "image", "push", "time-service", "v1.2.3", "--like", "sha-1a2b3c4")
		code, out := starter(t, "promote", "--service", "time-service", "--tag", "v1.2.3", "--to", "prod", "--as", "alice")
		require.Equal(t, 0, code, out)
		id := "promote-time-service-v1.2.3"
		var st api.Status
		require.Eventually(t, func() bool {
			st = status(t, id)
			return st.Stage == api.StageWaitingApproval || st.Stage == api.StageFailed
		}, 5*time.Minute, time.Second) // staging soaks 90 s first
		require.Equal(t, api.StageWaitingApproval, st.Stage, st.Error)
		require.Equal(t, api.EnvDone, st.Environments[0].State, "staging went by itself")
		require.Equal(t, "prod", st.PendingApproval.Env)
		require.True(t, slices.ContainsFunc(st.Steps, func(l string) bool { return strings.Contains(l, "ran Healthy in dev") }),
			"staging took the release because its digest runs Healthy in dev: %q", st.Steps)
		require.Equal(t, st.Digest, st.PendingApproval.Subject)

		code, out = starter(t, "approve", id, "--as", "alice")
		require.Equal(t, 2, code, out)
		require.Contains(t, out, "four-eyes")
		code, out = starter(t, "approve", id, "--as", "bob", "--comment", "ship it")
		require.Equal(t, 0, code, out)
		code, out = starter(t, "watch", id)
		require.Equal(t, 0, code, out)

		st = status(t, id)
		require.Equal(t, api.StageDone, st.Stage)
		prod := st.Environments[1]
		require.Equal(t, "prod", prod.Name)
		require.True(t, strings.HasSuffix(prod.Image, ":v1.2.3@"+st.Digest), "prod runs the approved digest: %s", prod.Image)
		require.Equal(t, prod.Image, pinned(t, cfg, "prod", "time-service"))
		require.Equal(t, "bob", st.Approvals[0].Who)
		rev, sync, health := application(t, cfg, "prod", "time-service-prod")
		require.Equal(t, []string{prod.Commit, "Synced", "Healthy"}, []string{rev, sync, health})
	})

	t.Run("a broken build is rolled back in dev", func(t *testing.T) {
		sandboxCLI(t, s, "image", "push", "time-service", "sha-9f8e7d6", "--broken")
		code, out := starter(t, "promote", "--service", "time-service", "--tag", "sha-9f8e7d6", "--wait", "--as", "alice")
		require.Equal(t, 1, code, out)
		require.Contains(t, out, "did not become healthy in dev")
		require.Contains(t, out, "rolled back to")
		st := status(t, "promote-time-service-sha-9f8e7d6")
		dev := st.Environments[0]
		require.Equal(t, api.EnvRolledBack, dev.State)
		require.Contains(t, dev.Image, ":sha-1a2b3c4@sha256:", dev.Image)
		require.Equal(t, dev.Image, pinned(t, cfg, "dev", "time-service"))
		rev, sync, health := application(t, cfg, "dev", "time-service-dev")
		require.Equal(t, []string{dev.Commit, "Synced", "Healthy"}, []string{rev, sync, health})
	})

	// CI tags a release on a build; staging takes it only if that very digest runs Healthy in
	// dev (requirePassed), and the broken build was rolled back there.
	t.Run("a release of a build that never ran Healthy in dev is refused at staging", func(t *testing.T) {
		sandboxCLI(t, s, "image", "push", "time-service", "v1.2.4", "--like", "sha-9f8e7d6")
		code, out := starter(t, "promote", "--service", "time-service", "--tag", "v1.2.4", "--wait", "--as", "alice")
		require.Equal(t, 1, code, out)
		require.Contains(t, out, "has not run Healthy in dev, which policy requires first: time-service-dev runs ")
		require.Contains(t, out, ":sha-1a2b3c4@sha256:", "the reason names what dev runs instead")
		st := status(t, "promote-time-service-v1.2.4")
		require.Equal(t, api.StageFailed, st.Stage)
		stg := st.Environments[0]
		require.Equal(t, []string{"staging", string(api.EnvFailed), ""}, []string{stg.Name, string(stg.State), stg.Commit}, "nothing was written to staging")
		require.Contains(t, pinned(t, cfg, "staging", "time-service"), ":v1.2.3@sha256:")
	})

	// A release that runs Healthy in staging and goes bad while staging soaks, before prod: the
	// soak watches the Application, and Degraded there rolls staging back as a failed
	// verification would; prod is never asked.
	t.Run("a release that goes bad during its soak in staging is rolled back there", func(t *testing.T) {
		sandboxCLI(t, s, "image", "push", "time-service", "sha-6a7b8c9")
		// The rollback in dev pinned time-service there: refused (nothing started) until unpinned.
		code, out := starter(t, "promote", "--service", "time-service", "--tag", "sha-6a7b8c9", "--wait", "--as", "alice")
		require.Equal(t, 2, code, out)
		require.Contains(t, out, "time-service is pinned to ")
		require.Contains(t, out, "by idp (rollback)")
		require.Contains(t, out, "starter unpin --service time-service --env dev")
		code, out = starter(t, "freezes")
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "dev: time-service is pinned to ")
		code, out = starter(t, "promote", "--service", "time-service", "--tag", "sha-6a7b8c9", "--wait", "--as", "alice", "--unpin")
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "time-service unpinned in dev by alice")
		sandboxCLI(t, s, "image", "push", "time-service", "v1.2.5", "--like", "sha-6a7b8c9")
		id := api.PromoteID("time-service", "v1.2.5")
		code, out = starter(t, "promote", "--service", "time-service", "--tag", "v1.2.5", "--to", "prod", "--as", "alice")
		require.Equal(t, 0, code, out)
		var st api.Status
		require.Eventually(t, func() bool {
			st = status(t, id)
			return st.Stage == api.StageFailed || st.Stage == api.StageWaitingApproval ||
				(len(st.Environments) > 0 && st.Environments[0].State == api.EnvSoaking)
		}, 3*time.Minute, time.Second)
		stg := st.Environments[0]
		require.Equal(t, api.EnvSoaking, stg.State, st.Error)
		require.NotNil(t, stg.SoakUntil)
		require.True(t, stg.SoakUntil.After(time.Now()), "soaking until %s", stg.SoakUntil)
		rev, sync, health := application(t, cfg, "staging", "time-service-staging")
		require.Equal(t, []string{stg.Commit, "Synced", "Healthy"}, []string{rev, sync, health}, "it ran Healthy before it went bad")

		out = sandboxCLI(t, s, "image", "break", "time-service", "v1.2.5")
		require.Contains(t, out, "staging: restarted Deployment time-service-staging/time-service")
		require.NotContains(t, out, "dev: restarted", "dev runs the build as sha-6a7b8c9, which stays good")
		code, out = starter(t, "watch", id)
		require.Equal(t, 1, code, out)
		st = status(t, id)
		require.Contains(t, st.Error, "did not stay healthy in staging")
		require.Contains(t, st.Error, "during its soak")
		require.Contains(t, st.Error, "rolled back to")
		stg = st.Environments[0]
		require.Equal(t, api.EnvRolledBack, stg.State)
		require.Nil(t, stg.SoakUntil)
		require.Contains(t, stg.Image, ":v1.2.3@sha256:", stg.Image)
		require.Equal(t, stg.Image, pinned(t, cfg, "staging", "time-service"))
		require.Equal(t, api.EnvPending, st.Environments[1].State, "prod was never asked")
		require.Nil(t, st.PendingApproval)
		rev, sync, health = application(t, cfg, "staging", "time-service-staging")
		require.Equal(t, []string{stg.Commit, "Synced", "Healthy"}, []string{rev, sync, health})
		code, out = starter(t, "unpin", "--service", "time-service", "--env", "staging", "--as", "alice")
		require.Equal(t, 0, code, "the rollback pinned staging; lifted for what follows: %s", out)
	})

	t.Run("a freeze stops a promotion at dev's door; it goes on when unfrozen", func(t *testing.T) {
		code, out := starter(t, "freeze", "--env", "dev", "--reason", "e2e: stop the line", "--until", "1h", "--as", "bob")
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "dev: frozen by bob until ")
		sandboxCLI(t, s, "image", "push", "time-service", "sha-2b4d6f8")
		id := api.PromoteID("time-service", "sha-2b4d6f8")
		code, out = starter(t, "promote", "--service", "time-service", "--tag", "sha-2b4d6f8", "--as", "alice")
		require.Equal(t, 0, code, out)
		require.Eventually(t, func() bool {
			st := status(t, id)
			return len(st.Environments) > 0 && st.Environments[0].State == api.EnvFrozen
		}, 2*time.Minute, time.Second)
		st := status(t, id)
		require.Contains(t, st.Frozen, "dev is frozen by bob until ")
		require.Contains(t, st.Frozen, ": e2e: stop the line")
		code, out = starter(t, "status", id)
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "waiting at the door: dev is frozen by bob")
		code, out = starter(t, "unfreeze", "--env", "dev", "--as", "carol")
		require.Equal(t, 0, code, out)
		code, out = starter(t, "watch", id)
		require.Equal(t, 0, code, "the same worker carries it on once dev is unfrozen: %s", out)
		require.Contains(t, out, "dev is no longer frozen: going on")
	})

	t.Run("the worker's metrics count what happened", func(t *testing.T) {
		got, err := observe.Scrape(context.Background(), s.MetricsURL())
		require.NoError(t, err)
		total := func(name string, labels map[string]string) float64 {
			var sum float64
			for _, s := range observe.Find(got, name, labels) {
				sum += s.Value
			}
			return sum
		}
		svc := func(env, outcome string) map[string]string {
			return map[string]string{"env": env, "service": "time-service", "outcome": outcome}
		}
		require.Equal(t, 1.0, total(metrics.Promotions, svc("prod", metrics.Succeeded)))
		require.Equal(t, 1.0, total(metrics.Promotions, svc("staging", metrics.RolledBack)))
		require.Equal(t, 1.0, total(metrics.Rollbacks, map[string]string{"env": "staging", "service": "time-service"}))
		require.Equal(t, 1.0, total(metrics.LeadTime+"_count", map[string]string{"env": "prod", "service": "time-service"}))
		require.Equal(t, 1.0, total(metrics.ApprovalWait+"_count", map[string]string{"kind": api.KindPromote, "env": "prod", "outcome": metrics.Approved}))
		require.Equal(t, 1.0, total(metrics.ApprovalWait+"_count", map[string]string{"kind": api.KindBootstrap, "env": "staging", "outcome": metrics.Approved}))
		require.GreaterOrEqual(t, total(metrics.TerraformApply+"_count", map[string]string{"env": "dev", "outcome": metrics.Succeeded}), 1.0)
		require.GreaterOrEqual(t, total(metrics.ArgoCDWait+"_count", map[string]string{"env": "dev", "app": "dev-apps", "outcome": metrics.Healthy}), 1.0)
		require.Equal(t, 1.0, total(metrics.Promotions, svc("staging", metrics.Failed)), "v1.2.4 refused at staging: it never ran Healthy in dev")
		dev := total(metrics.ArgoCDWait+"_count", map[string]string{"env": "dev", "app": "time-service-dev", "outcome": metrics.Degraded}) +
			total(metrics.ArgoCDWait+"_count", map[string]string{"env": "dev", "app": "time-service-dev", "outcome": metrics.TimedOut})
		require.Equal(t, 1.0, dev, "sha-9f8e7d6's wait in dev ended Degraded (or timed out)")
		require.GreaterOrEqual(t, total("temporal_workflow_completed_total", map[string]string{"workflow_type": api.BootstrapWorkflowName}), 3.0)
	})
}
