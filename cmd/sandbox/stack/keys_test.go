package stack

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/signature"
)

// TestSandboxConfigCarriesGeneratedKeys: the sandbox's idp.yaml validates, lists each
// person's generated key, requires signatures where the real file does, and keeps the keys
// across restarts.
func TestSandboxConfigCarriesGeneratedKeys(t *testing.T) {
	endpoints := map[string]string{}
	for _, a := range Accounts {
		endpoints[a] = "http://127.0.0.1:4566" // the emulators' (the sandbox's account IDs are labels)
	}
	s := &Stack{opts: Options{Dir: t.TempDir()}, RepoURL: "file:///repo", Endpoints: endpoints, Kubeconfigs: map[string]string{}}
	path, err := s.writeConfig()
	require.NoError(t, err)
	cfg, err := config.Load(path)
	require.NoError(t, err)
	for _, name := range People {
		b, err := os.ReadFile(filepath.Join(s.KeysDir(), name))
		require.NoError(t, err)
		signer, err := signature.SignerFromPEM(b)
		require.NoError(t, err)
		k, err := signature.ParseKey(cfg.Keys(name)[0])
		require.NoError(t, err)
		require.Equal(t, signature.Fingerprint(signer.PublicKey()), signature.Fingerprint(k), name)
	}
	for _, env := range []string{"staging", "prod"} {
		e, err := cfg.Env(env)
		require.NoError(t, err)
		require.True(t, e.Bootstrap.PlanApproval.RequireSignatures, env)
	}
	prod, _ := cfg.Env("prod")
	require.True(t, prod.Promotion.Approval.RequireSignatures)

	first := cfg.Keys("bob")
	path, err = s.writeConfig()
	require.NoError(t, err)
	cfg, err = config.Load(path)
	require.NoError(t, err)
	require.Equal(t, first, cfg.Keys("bob"), "a restarted sandbox keeps its keys")
}
