// Package stacktest starts the local stack for tests that run against it: the end-to-end
// tests, the fault tests and the benchmarks.
package stacktest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/alexpermiakov/idp/cmd/sandbox/stack"
)

// attempts is how often Up starts the stack when a port it picked was taken meanwhile.
const attempts = 3

// Up starts a stack for t from a test package one level below the repository's root and
// stops it when t ends. Left empty, Dir is a temporary directory, Root and BinDir are the
// repository's root and bin/, and the Temporal, Web UI and codec ports are free ones.
// needs are the binaries under bin/ the test runs besides temporal; terraform must be on
// PATH. A port taken between being picked and being bound (another test's process got
// it) starts the stack again on other ports.
func Up(t testing.TB, opts stack.Options, needs ...string) *stack.Stack {
	t.Helper()
	if opts.Root == "" {
		opts.Root = ".."
	}
	if opts.BinDir == "" {
		opts.BinDir = filepath.Join(opts.Root, "bin")
	}
	for _, bin := range append([]string{"temporal"}, needs...) {
		if _, err := os.Stat(filepath.Join(opts.BinDir, bin)); err != nil {
			t.Fatalf("%s is missing: run `make build tools` (make test builds them first)", filepath.Join(opts.BinDir, bin))
		}
	}
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Fatal("terraform is not on PATH: install terraform >= 1.10 (CI installs it in .ci/run)")
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	pickPorts := opts.TemporalPort == 0
	for attempt := 1; ; attempt++ {
		o := opts
		if pickPorts {
			o.TemporalPort, o.UIPort, o.CodecPort = FreePort(t), FreePort(t), FreePort(t)
		}
		var log bytes.Buffer
		o.Log = &log
		s, err := stack.Up(context.Background(), o)
		if opts.Log != nil {
			_, _ = opts.Log.Write(log.Bytes())
		}
		if err == nil {
			t.Cleanup(s.Close)
			return s
		}
		if errors.Is(err, stack.ErrPortTaken) && pickPorts && attempt < attempts {
			t.Logf("sandbox up, attempt %d: %v: starting again on other ports", attempt, err)
			continue
		}
		t.Fatalf("sandbox up: %v\n%s", err, log.String())
	}
}

// FreePort is stack.FreePort, failing t when there is none.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}
