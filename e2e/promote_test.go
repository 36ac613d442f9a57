package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
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

// application reads an Argo CD Application's sync revision and health in env's cluster.
func application(t *testing.T, cfg *config.Config, env, name string) (revision, sync, health string) {
	t.Helper()
	e, err := cfg.Env(env)
	require.NoError(t, err)
	rc, err := clientcmd.BuildConfigFromFlags("", e.ArgoCD.Kubeconfig)
	require.NoError(t, err)
	dc, err := dynamic.NewForConfig(rc)
	require.NoError(t, err)
	app, err := dc.Resource(appsGVR).Namespace("argocd").Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
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

func sandboxCLI(t *testing.T, s *stack.Stack, args ...string) string {
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

	t.Run("bad input starts nothing", func(t *testing.T) {
		code, out := starter(t, "promote", "--service", "time-service", "--tag", "latest")
		require.Equal(t, 2, code, out)
		require.Contains(t, out, "matches no environment's entry pattern")
		code, out = starter(t, "promote", "--service", "time-service", "--tag", "v9.9.9", "--to", "dev")
		require.Equal(t, 2, code, out)
		require.Contains(t, out, "comes before staging")
		code, out = starter(t, "promote", "--service", "time-service", "--tag", "sha-deadbee", "--wait")
		require.Equal(t, 1, code, "a tag missing from ECR fails the run at once: %s", out)
		require.Contains(t, out, "no image tagged sha-deadbee")
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
		}, 3*time.Minute, time.Second)
		require.Equal(t, api.StageWaitingApproval, st.Stage, st.Error)
		require.Equal(t, api.EnvDone, st.Environments[0].State, "staging went by itself")
		require.Equal(t, "prod", st.PendingApproval.Env)
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

	t.Run("a broken release is rolled back in staging", func(t *testing.T) {
		sandboxCLI(t, s, "image", "push", "time-service", "v1.2.4", "--broken")
		code, out := starter(t, "promote", "--service", "time-service", "--tag", "v1.2.4", "--wait", "--as", "alice")
		require.Equal(t, 1, code, out)
		require.Contains(t, out, "did not become healthy in staging")
		require.Contains(t, out, "rolled back to")
		st := status(t, "promote-time-service-v1.2.4")
		stg := st.Environments[0]
		require.Equal(t, api.EnvRolledBack, stg.State)
		require.Contains(t, stg.Image, ":v1.2.3@sha256:", stg.Image)
		require.Equal(t, stg.Image, pinned(t, cfg, "staging", "time-service"))
		rev, sync, health := application(t, cfg, "staging", "time-service-staging")
		require.Equal(t, []string{stg.Commit, "Synced", "Healthy"}, []string{rev, sync, health})
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
		stg := total(metrics.ArgoCDWait+"_count", map[string]string{"env": "staging", "app": "time-service-staging", "outcome": metrics.Degraded}) +
			total(metrics.ArgoCDWait+"_count", map[string]string{"env": "staging", "app": "time-service-staging", "outcome": metrics.TimedOut})
		require.Equal(t, 1.0, stg, "v1.2.4's wait in staging ended Degraded (or timed out)")
		require.GreaterOrEqual(t, total("temporal_workflow_completed_total", map[string]string{"workflow_type": api.BootstrapWorkflowName}), 3.0)
	})
}
