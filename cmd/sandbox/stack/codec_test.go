package stack

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/codec"
)

// sourcedEnv is the environment `source .sandbox/env` leaves in a shell that had a real cluster's
// Temporal settings and payload keys.
func sourcedEnv(t *testing.T, s *Stack) map[string]string {
	t.Helper()
	require.NoError(t, s.writeEnv())
	cmd := exec.Command("sh", "-c", ". "+filepath.Join(s.opts.Dir, "env")+" && env")
	cmd.Env = append(os.Environ(), "TEMPORAL_API_KEY=prod-api-key", "IDP_CODEC_KEYS=/etc/idp/prod-keys", "IDP_CODEC_KEY_2025=cHJvZA==")
	out, err := cmd.Output()
	require.NoError(t, err)
	env := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env
}

func TestSandboxEncryptsOnlyWithItsOwnKey(t *testing.T) {
	s := &Stack{opts: Options{Dir: t.TempDir(), UIPort: 8233}, RepoURL: "file:///repo", Endpoints: map[string]string{}, Kubeconfigs: map[string]string{}}
	var err error
	s.Config, err = s.writeConfig()
	require.NoError(t, err)
	env := sourcedEnv(t, s)
	for k := range env {
		require.False(t, strings.HasPrefix(k, "IDP_CODEC_"), "without --encrypt the shell's %s is dropped", k)
	}
	require.NotContains(t, env, "TEMPORAL_API_KEY")

	s.opts.Encrypt = true
	require.NoError(t, s.writeCodecKey())
	env = sourcedEnv(t, s)
	require.Equal(t, s.codecKeys(), env[codec.EnvKeys])
	require.Equal(t, codecKeyID, env[codec.EnvKeyID])
	require.NotContains(t, env, "IDP_CODEC_KEY_2025")
	ring, err := codec.Load(mapEnv(env))
	require.NoError(t, err)
	require.Equal(t, []string{codecKeyID}, ring.IDs())
	info, err := os.Stat(s.codecKeys())
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the key is the user's alone")

	t.Setenv("IDP_CODEC_KEY_ID", "2025")
	for _, kv := range clientEnv() {
		require.False(t, strings.HasPrefix(kv, "IDP_CODEC_"), "the worker and codec server get the sandbox's keys only: %s", kv)
	}
}

type mapEnv map[string]string

func (m mapEnv) LookupEnv(k string) (string, bool) { v, ok := m[k]; return v, ok }
func (m mapEnv) Environ() []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}
