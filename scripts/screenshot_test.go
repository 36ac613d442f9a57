package scripts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestScreenshotStopsAtOnceWithoutABrowser: on a machine without chromium, node and npm (and no
// apt-get to install them), `make screenshot` stops before it starts anything, naming the
// packages and the command that installs them.
func TestScreenshotStopsAtOnceWithoutABrowser(t *testing.T) {
	out, code := run(t, utils(t, "dirname", "seq", "grep", "mkdir"), nil, abs(t, "screenshot.sh"))
	require.Equal(t, 1, code, out)
	require.Regexp(t, `screenshot: missing chromium nodejs npm; install with: (sudo )?apt-get update && (sudo )?apt-get install -y chromium nodejs npm\n$`, out)
	require.NotContains(t, out, "local stack")
}

// TestScreenshotIsWired: `make screenshot` runs the script, which drives shot.js with the
// puppeteer-core version package.json pins and the lock file holds; node_modules stays out of
// Git; the README shows what it takes.
func TestScreenshotIsWired(t *testing.T) {
	read := func(rel string) string {
		b, err := os.ReadFile(filepath.Join("..", rel))
		require.NoError(t, err)
		return string(b)
	}
	require.Regexp(t, regexp.MustCompile(`(?m)^screenshot: .*\n\t\./scripts/screenshot\.sh$`), read("Makefile"))
	require.Regexp(t, regexp.MustCompile(`(?m)^\.PHONY:.* screenshot `), read("Makefile"))
	require.Contains(t, read("scripts/screenshot.sh"), `node "$tool/shot.js"`)
	require.Contains(t, read(".gitignore"), "/tools/screenshot/node_modules/\n")

	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	require.NoError(t, json.Unmarshal([]byte(read("tools/screenshot/package.json")), &pkg))
	pinned := pkg.Dependencies["puppeteer-core"]
	require.Regexp(t, `^\d+\.\d+\.\d+$`, pinned, "an exact version, not a range")
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	require.NoError(t, json.Unmarshal([]byte(read("tools/screenshot/package-lock.json")), &lock))
	require.Equal(t, pinned, lock.Packages["node_modules/puppeteer-core"].Version)

	for _, png := range []string{"docs/webui-approval.png", "docs/webui-timeline.png"} {
		require.FileExists(t, filepath.Join("..", png))
		require.Contains(t, read("README.md"), "("+png+")", "the README shows %s", png)
	}
}
