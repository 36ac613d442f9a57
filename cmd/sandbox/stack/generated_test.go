package stack

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Generated services get an Application per env copied from time-service's, with their own
// name, namespace and ECR repository, and an ECR repository name PushImage knows.
func TestGeneratedServices(t *testing.T) {
	require.Equal(t, []string{"svc-001", "svc-002", "svc-003"}, GeneratedServices(3))
	require.Error(t, checkGenerated(MaxGenerated+1))
	require.Error(t, checkGenerated(-1))
	require.NoError(t, checkGenerated(100))
	repo, ok := repositoryOf("svc-042")
	require.True(t, ok)
	require.Equal(t, "idp/svc-042", repo)
	_, ok = repositoryOf("svc-42")
	require.False(t, ok, "only generated names")
	all := servicesWith(100)
	require.Len(t, all, len(Services)+100)
	require.Equal(t, "idp/localtime", all["time-service"])

	dir := t.TempDir()
	url, err := seedRepository(context.Background(), filepath.Join("..", "..", ".."), dir, GeneratedServices(2))
	require.NoError(t, err)
	bare := strings.TrimPrefix(url, "file://")
	for _, env := range Environments {
		out, err := exec.Command("git", "--git-dir", bare, "show", "main:argocd/applications/"+env+"/svc-002.yaml").CombinedOutput()
		require.NoError(t, err, string(out))
		m := string(out)
		require.Contains(t, m, "name: svc-002-"+env)
		require.Contains(t, m, "namespace: svc-002-"+env)
		require.Contains(t, m, "/idp/svc-002:")
		require.Contains(t, m, "repoURL: "+url)
		require.NotContains(t, m, "time-service")
		require.NotContains(t, m, "localtime")
	}
}
