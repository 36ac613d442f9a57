package config

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPreviewSnapshotsNeverCollide(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "idp.yaml"))
	require.NoError(t, err)
	base, err := c.Snapshot("dev")
	require.NoError(t, err)
	p7, err := c.PreviewSnapshot("dev", 7, "feature/a")
	require.NoError(t, err)
	p8, err := c.PreviewSnapshot("dev", 8, "feature/b")
	require.NoError(t, err)
	s7, err := c.PreviewSnapshot("staging", 7, "feature/a")
	require.NoError(t, err)

	require.Equal(t, "dev-pr-7", p7.Env.Name)
	require.Equal(t, "previews/dev-pr-7/entry/terraform.tfstate", p7.Env.StateKey)
	require.Equal(t, "k8s-pr-7", p7.Env.ClusterName)
	require.Equal(t, "dev-pr-7-apps", p7.Env.ArgoCD.AppOfApps)
	require.Equal(t, &Preview{Base: "dev", PR: 7, Branch: "feature/a", BaseAppOfApps: "dev-apps", NamespacePrefix: "pr-7-"}, p7.Env.Preview)
	require.Equal(t, "dev", p7.Env.BaseName())
	require.Equal(t, "dev", base.Env.BaseName())

	// Same account and bucket as the base, same policies: a preview of dev needs no approval.
	require.Equal(t, base.Env.AWS, p7.Env.AWS)
	require.Equal(t, base.Env.StateBucket, p7.Env.StateBucket)
	require.Equal(t, base.Env.Bootstrap, p7.Env.Bootstrap)
	require.False(t, p7.Env.Bootstrap.PlanApproval.Required)
	// A preview of staging inherits staging's plan approval.
	require.True(t, s7.Env.Bootstrap.PlanApproval.Required)

	envs := []Environment{base.Env, p7.Env, p8.Env, s7.Env}
	for i := range envs {
		for j := range envs {
			if i == j {
				continue
			}
			a, b := envs[i], envs[j]
			require.NotEqual(t, a.Name, b.Name)
			require.NotEqual(t, a.ArgoCD.AppOfApps, b.ArgoCD.AppOfApps)
			if a.StateBucket == b.StateBucket {
				require.NotEqual(t, a.StateKey, b.StateKey, "%s and %s share a bucket", a.Name, b.Name)
			}
			if a.AWS.AccountID == b.AWS.AccountID {
				require.NotEqual(t, a.ClusterName, b.ClusterName, "%s and %s share an account", a.Name, b.Name)
			}
			if a.Preview != nil && b.Preview != nil && a.AWS.AccountID == b.AWS.AccountID {
				require.NotEqual(t, a.Preview.NamespacePrefix, b.Preview.NamespacePrefix)
			}
		}
	}

	// The worker's idp.yaml is untouched by a preview taken from it.
	dev, err := c.Env("dev")
	require.NoError(t, err)
	require.Equal(t, "dev", dev.Name)
	require.Nil(t, dev.Preview)
	require.Equal(t, "entry/terraform.tfstate", dev.StateKey)
}

func TestPreviewSnapshotBadInput(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "idp.yaml"))
	require.NoError(t, err)
	c.Environments = append(c.Environments, Environment{Name: "a-very-long-development-env"})
	for name, tc := range map[string]struct {
		base, branch, want string
		pr                 int
	}{
		"unknown base": {"qa", "b", "unknown environment", 1},
		"no pr":        {"dev", "b", "above 0", 0},
		"no branch":    {"dev", " ", "head branch", 1},
		"too long":     {"a-very-long-development-env", "b", "longer than 31", 7},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.PreviewSnapshot(tc.base, tc.pr, tc.branch)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// A configured env's snapshot encodes exactly as before previews existed: running workflows
// and recorded histories carry it.
func TestSnapshotWithoutPreviewEncodesAsBefore(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "idp.yaml"))
	require.NoError(t, err)
	snap, err := c.Snapshot("dev")
	require.NoError(t, err)
	b, err := json.Marshal(snap)
	require.NoError(t, err)
	require.NotContains(t, string(b), "preview")
}
