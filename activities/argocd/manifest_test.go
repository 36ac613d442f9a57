package argocd

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/config"
)

// TestDefaultVersionIsGoModsArgoCD: binaries without Argo CD's Go module (the worker, the
// sandbox) install config.DefaultArgoCDVersion from the module cache, so it must be the
// version go.mod requires (the one `go mod download` fetches).
func TestDefaultVersionIsGoModsArgoCD(t *testing.T) {
	b, err := os.ReadFile("../../go.mod")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(argoModule) + `\s+(v\S+)`).FindSubmatch(b)
	require.NotNil(t, m, "go.mod does not require %s", argoModule)
	require.Equal(t, string(m[1]), config.DefaultArgoCDVersion,
		"go.mod requires Argo CD %s but config.DefaultArgoCDVersion is %s: make them the same", m[1], config.DefaultArgoCDVersion)
}

// TestApplicationDecodesArgoCDsJSON: the fields idp reads come out of an Application as the
// API serves it.
func TestApplicationDecodesArgoCDsJSON(t *testing.T) {
	obj := map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": "web-dev", "annotations": map[string]any{annotationRefresh: refreshNormal}},
		"status": map[string]any{
			"sync":           map[string]any{"status": "OutOfSync", "revisions": []any{"abc123"}},
			"health":         map[string]any{"status": "Degraded", "message": "rollout stuck"},
			"conditions":     []any{map[string]any{"type": "ComparisonError", "message": "bad chart"}, map[string]any{"type": "OrphanedResourceWarning", "message": "x"}},
			"operationState": map[string]any{"phase": "Failed", "message": "one or more objects failed to apply"},
			"reconciledAt":   "2026-12-02T10:00:00Z",
			"resources": []any{map[string]any{"group": "apps", "kind": "Deployment", "name": "web",
				"health": map[string]any{"status": "Degraded", "message": "progress deadline exceeded"}}},
			"summary": map[string]any{"images": []any{"repo/web:sha-1"}},
		},
	}
	var app application
	require.NoError(t, decodeApp(obj, &app))
	require.Equal(t, refreshNormal, app.Annotations[annotationRefresh])
	require.NotNil(t, app.Status.ReconciledAt)
	require.Equal(t, []string{"repo/web:sha-1"}, app.Status.Summary.Images)
	require.True(t, comparisonFailed(&app))
	st := summarize(&app)
	require.Equal(t, AppStatus{Name: "web-dev", Sync: "OutOfSync", Health: "Degraded", Revision: "abc123",
		Message: "ComparisonError: bad chart; sync Failed: one or more objects failed to apply; rollout stuck; Deployment web: progress deadline exceeded"}, st)
}
