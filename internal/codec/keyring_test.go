package codec

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// env is a test environment.
type env map[string]string

func (e env) LookupEnv(k string) (string, bool) { v, ok := e[k]; return v, ok }
func (e env) Environ() []string {
	var out []string
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}

func write(t *testing.T, path, text string) string {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

func TestNothingConfiguredMeansNoEncryption(t *testing.T) {
	ring, err := Load(env{"IDP_CONFIG": "idp.yaml"})
	require.NoError(t, err)
	require.Nil(t, ring)
}

func TestKeysFromAFileADirectoryAndTheEnvironment(t *testing.T) {
	k1, k2, k3 := newKey(t), newKey(t), newKey(t)
	file := write(t, filepath.Join(t.TempDir(), "keys"), fmt.Sprintf("# idp payload keys\n\nk1 %s\n  k2   %s  \n", b64(k1), b64(k2)))
	ring, err := Load(env{EnvKeys: file, "IDP_CODEC_KEY_k3": b64(k3), EnvKeyID: "k2"})
	require.NoError(t, err)
	require.Equal(t, "k2", ring.Current())
	require.Equal(t, []string{"k1", "k2", "k3"}, ring.IDs())
	require.Equal(t, k3, ring.keys["k3"])

	// A mounted Kubernetes Secret: one file per key, the real files under hidden ..data.
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "..data"), 0o700))
	write(t, filepath.Join(dir, "..data", "2025-01"), b64(k1)+"\n")
	require.NoError(t, os.Symlink(filepath.Join("..data", "2025-01"), filepath.Join(dir, "2025-01")))
	ring, err = Load(env{EnvKeys: dir})
	require.NoError(t, err, "one key needs no IDP_CODEC_KEY_ID")
	require.Equal(t, "2025-01", ring.Current())
	require.Equal(t, []string{"2025-01"}, ring.IDs())

	ring, err = Load(env{"IDP_CODEC_KEY_only": b64(k1)})
	require.NoError(t, err)
	require.Equal(t, "only", ring.Current())
}

func TestBadKeyringsSayWhatToFix(t *testing.T) {
	dir := t.TempDir()
	good, short := b64(newKey(t)), b64([]byte("sixteen byte key"))
	for name, tc := range map[string]struct {
		env  env
		want []string
	}{
		"missing file": {env{EnvKeys: filepath.Join(dir, "absent")}, []string{"IDP_CODEC_KEYS: stat " + filepath.Join(dir, "absent")}},
		"empty file":   {env{EnvKeys: write(t, filepath.Join(dir, "empty"), "# nothing yet\n")}, []string{"holds no key: add lines"}},
		"malformed line": {env{EnvKeys: write(t, filepath.Join(dir, "three"), "k1 "+good+" extra\n")},
			[]string{"three line 1: want \"ID base64key\", found 3 fields"}},
		"short key": {env{EnvKeys: write(t, filepath.Join(dir, "short"), "k1 "+short+"\n")},
			[]string{`short line 1: key "k1" is 16 bytes after base64 decoding; AES-256 needs 32 (make one with: head -c 32 /dev/urandom | base64)`}},
		"not base64":    {env{"IDP_CODEC_KEY_k1": "not*base64"}, []string{`IDP_CODEC_KEY_k1: key "k1" is not base64`}},
		"bad ID":        {env{EnvKeys: write(t, filepath.Join(dir, "id"), "k/1 "+good+"\n")}, []string{`key ID "k/1": use 1 to 64 of`}},
		"two keys":      {env{"IDP_CODEC_KEY_a": good, "IDP_CODEC_KEY_b": b64(newKey(t))}, []string{`2 keys are configured ("a", "b"): set IDP_CODEC_KEY_ID to the one that encrypts`}},
		"unknown ID":    {env{"IDP_CODEC_KEY_a": good, EnvKeyID: "b"}, []string{`IDP_CODEC_KEY_ID is "b", but the keys configured are "a"`}},
		"ID and no key": {env{EnvKeyID: "b"}, []string{`IDP_CODEC_KEY_ID is "b" but no key is configured: set IDP_CODEC_KEYS to a keyring or IDP_CODEC_KEY_b to a key`}},
		"clash": {env{EnvKeys: write(t, filepath.Join(dir, "clash"), "a "+good+"\n"), "IDP_CODEC_KEY_a": b64(newKey(t))},
			[]string{`key "a" is in ` + filepath.Join(dir, "clash") + ` line 1 and in IDP_CODEC_KEY_a with different values`}},
		"every problem at once": {env{EnvKeys: write(t, filepath.Join(dir, "many"), "a "+short+"\nb\n")},
			[]string{`key "a" is 16 bytes`, "line 2: want"}},
	} {
		_, err := Load(tc.env)
		require.Error(t, err, name)
		for _, want := range tc.want {
			require.ErrorContains(t, err, want, name)
		}
		require.NotContains(t, err.Error(), good, "%s: a key is never shown", name)
		require.NotContains(t, err.Error(), short, "%s: a key is never shown", name)
	}
}

func TestAKeyringNeverPrintsItsKeys(t *testing.T) {
	key := newKey(t)
	ring, err := NewKeyring("k1", map[string][]byte{"k1": key})
	require.NoError(t, err)
	for _, s := range []string{fmt.Sprint(ring), fmt.Sprintf("%v %+v %#v %s", ring, ring, ring, ring), fmt.Sprintf("%v %+v %#v", *ring, *ring, *ring)} {
		require.NotContains(t, s, b64(key))
		require.NotContains(t, s, string(key))
		require.Contains(t, s, `encrypting with key "k1"`)
	}
}
