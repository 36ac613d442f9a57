package argocd

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/config"
)

func TestKubeCacheSharesAClientPerCluster(t *testing.T) {
	builds := 0
	c := newKubeCache(func(context.Context, *config.Environment) (kube, error) {
		builds++
		return newFakeKube(), nil
	})
	now := time.Now()
	c.now = func() time.Time { return now }
	ctx := context.Background()

	kubeconfig := filepath.Join(t.TempDir(), "dev.kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, []byte("v1"), 0o600))
	dev := &config.Environment{Name: "dev"}
	dev.ArgoCD.Kubeconfig = kubeconfig
	a, err := c.get(ctx, dev)
	require.NoError(t, err)
	b, err := c.get(ctx, dev)
	require.NoError(t, err)
	require.Same(t, a, b, "two activities in one env share a client")
	require.Equal(t, 1, builds)

	require.NoError(t, os.WriteFile(kubeconfig, []byte("v2, another cluster"), 0o600))
	b, err = c.get(ctx, dev)
	require.NoError(t, err)
	require.NotSame(t, a, b, "a rewritten kubeconfig gets a new client")
	require.Equal(t, 2, builds)

	prod := &config.Environment{Name: "prod", ClusterName: "prod", AWS: config.AWS{AccountID: "111111111111", Region: "us-west-2"}}
	p1, err := c.get(ctx, prod)
	require.NoError(t, err)
	p2, err := c.get(ctx, prod)
	require.NoError(t, err)
	require.Same(t, p1, p2)
	now = now.Add(eksClientFor + time.Second)
	p3, err := c.get(ctx, prod)
	require.NoError(t, err)
	require.NotSame(t, p1, p3, "an EKS client is rebuilt before its token expires")
	require.Equal(t, 4, builds)
}
