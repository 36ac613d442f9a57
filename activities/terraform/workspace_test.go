package terraform

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A working directory is reused only for exactly the inputs init ran with, and only while
// what init made is there.
func TestInitStampReuse(t *testing.T) {
	base := initStamp("c1", []byte(`{"environment":"dev"}`), "bucket = \"b\"\n", "rc")
	for name, other := range map[string]string{
		"another commit":   initStamp("c2", []byte(`{"environment":"dev"}`), "bucket = \"b\"\n", "rc"),
		"other variables":  initStamp("c1", []byte(`{"environment":"staging"}`), "bucket = \"b\"\n", "rc"),
		"another backend":  initStamp("c1", []byte(`{"environment":"dev"}`), "bucket = \"c\"\n", "rc"),
		"another CLI file": initStamp("c1", []byte(`{"environment":"dev"}`), "bucket = \"b\"\n", "rc2"),
		"parts shifted":    initStamp("c", []byte(`1{"environment":"dev"}`), "bucket = \"b\"\n", "rc"),
	} {
		require.NotEqual(t, base, other, name)
	}

	runDir := t.TempDir()
	dir := filepath.Join(runDir, "infra", "entry")
	require.False(t, initialized(runDir, dir, base), "never initialized")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, ".terraform"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(runDir, stampFile), []byte(base), 0o644))
	require.True(t, initialized(runDir, dir, base))
	require.False(t, initialized(runDir, dir, initStamp("c2", nil, "", "")), "initialized for other inputs")
	require.NoError(t, os.RemoveAll(filepath.Join(dir, ".terraform")))
	require.False(t, initialized(runDir, dir, base), ".terraform is gone")

	for _, f := range []string{planFile, "approved.tfplan", importFile, "main.tf"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), nil, 0o644))
	}
	require.NoError(t, removeLeftovers(dir))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	require.Equal(t, []string{"main.tf"}, left, "plan files and recovery imports go; the configuration stays")
}
