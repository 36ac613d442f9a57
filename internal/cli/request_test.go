package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/crypto/ssh"

	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/internal/signature"
	"github.com/alexpermiakov/idp/workflows/api"
)

// fakeStarts is a Temporal client that records the runs started; with fail set, every run
// ends with that error.
type fakeStarts struct {
	client.Client
	inputs []any
	fail   error
	// pins are the pins each env's Controls workflow answers with; updates records the
	// updates sent to them.
	pins    map[string][]controls.Pin
	updates []controls.Request
	// busy: the Controls workflows' queries run out of time.
	busy bool
}

func (f *fakeStarts) Close() {}

// DescribeWorkflow finds no run: a destroy --pr starts its destroy directly.
func (f *fakeStarts) DescribeWorkflow(_ context.Context, id, _ string) (*client.WorkflowExecutionDescription, error) {
	return nil, serviceerror.NewNotFound(id + " not found")
}

func (f *fakeStarts) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, _ interface{}, args ...interface{}) (client.WorkflowRun, error) {
	f.inputs = append(f.inputs, args[0])
	return fakeRun{id: o.ID, err: f.fail}, nil
}

func (f *fakeStarts) GetWorkflow(_ context.Context, id, _ string) client.WorkflowRun {
	return fakeRun{id: id, err: f.fail}
}

func (f *fakeStarts) QueryWorkflow(_ context.Context, id, _, query string, _ ...interface{}) (converter.EncodedValue, error) {
	if query == controls.Query {
		if f.busy {
			return nil, serviceerror.NewDeadlineExceeded("context deadline exceeded")
		}
		return f.controlsState(id), nil
	}
	return value{api.Status{Stage: api.StageFailed}}, nil
}

type fakeRun struct {
	client.WorkflowRun
	id  string
	err error
}

func (r fakeRun) GetID() string                          { return r.id }
func (r fakeRun) GetRunID() string                       { return "run-1" }
func (r fakeRun) Get(context.Context, interface{}) error { return r.err }

// configWithKey writes the shipped idp.yaml with alice's example key replaced by key.
func configWithKey(t *testing.T, key ssh.PublicKey) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "idp.yaml"))
	require.NoError(t, err)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	out := regexp.MustCompile(`"ssh-ed25519 [^"]*alice@example\.invalid[^"]*"`).ReplaceAllLiteral(b, []byte(`"`+line+`"`))
	require.NotEqual(t, b, out, "alice's example key is gone from idp.yaml")
	p := filepath.Join(t.TempDir(), "idp.yaml")
	require.NoError(t, os.WriteFile(p, out, 0o600))
	return p
}

// start runs a starter command against the Temporal client c with cfg and returns its exit
// code, stdout and stderr.
func start(t *testing.T, c client.Client, cfg string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&globals{out: &out, errOut: &errOut, dial: func(client.Options) (client.Client, error) { return c, nil },
		clock: func() time.Time { return signedAt }})
	root.SetArgs(append(args, "--config", cfg))
	err := root.ExecuteContext(context.Background())
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return Code(err), out.String(), errOut.String()
}

// aliceSigns writes alice's key in a temporary directory and a config naming it, with no
// other signing key in reach (no $IDP_SIGNING_KEY, keys directory or agent).
func aliceSigns(t *testing.T) (dir string, alice ssh.PublicKey, cfg string) {
	t.Helper()
	dir = t.TempDir()
	alice = writeKey(t, dir, "alice")
	cfg = configWithKey(t, alice)
	t.Setenv("IDP_SIGNING_KEY", "")
	t.Setenv("IDP_KEYS_DIR", "")
	t.Setenv("SSH_AUTH_SOCK", "")
	return dir, alice, cfg
}

func TestRequestsAreSignedWithTheRequestersKey(t *testing.T) {
	dir, alice, cfg := aliceSigns(t)
	f := &fakeStarts{}

	code, _, stderr := start(t, f, cfg, "bootstrap", "--env", "staging", "--as", "alice", "--key", filepath.Join(dir, "alice"))
	require.Equal(t, ExitDone, code, stderr)
	require.Empty(t, stderr)
	in := f.inputs[0].(api.BootstrapInput)
	require.Equal(t, signedAt, in.SignedAt)
	require.Equal(t, signature.Statement{WorkflowID: "bootstrap-staging", Env: "staging", Decision: "request", Subject: "staging", SignedAt: signedAt},
		in.Statement("bootstrap-staging"))
	_, err := signature.Verify(in.Statement("bootstrap-staging"), in.Signature, []ssh.PublicKey{alice})
	require.NoError(t, err)

	t.Setenv("IDP_KEYS_DIR", dir) // the sandbox's way: --as NAME picks NAME's key
	code, _, stderr = start(t, f, cfg, "promote", "--service", "time-service", "--tag", "v1.2.3", "--to", "prod", "--supersede", "--as", "alice")
	require.Equal(t, ExitDone, code, stderr)
	pin := f.inputs[1].(api.PromoteInput)
	st := pin.Statement(api.PromoteID("time-service", "v1.2.3"))
	require.Equal(t, signature.Statement{WorkflowID: "promote-time-service-v1.2.3", Env: "prod", Decision: "request",
		Subject: "time-service:v1.2.3", Comment: "supersede", SignedAt: signedAt}, st)
	_, err = signature.Verify(st, pin.Signature, []ssh.PublicKey{alice})
	require.NoError(t, err)
}

func TestRequestsWithoutAKeyGoUnsigned(t *testing.T) {
	dir := t.TempDir()
	cfg := configWithKey(t, writeKey(t, dir, "alice"))
	t.Setenv("IDP_SIGNING_KEY", "")
	t.Setenv("IDP_KEYS_DIR", dir)
	t.Setenv("SSH_AUTH_SOCK", "")
	f := &fakeStarts{}

	for i, c := range []struct {
		args []string
		why  string
	}{
		{[]string{"--as", "ci"}, "no key for ci in idp.yaml, and no --key, IDP_SIGNING_KEY or IDP_KEYS_DIR/ci"},
		{[]string{"--as", "bob"}, "no signing key: pass --key FILE, set IDP_SIGNING_KEY, or start ssh-agent"},
		{[]string{"--as", "alice", "--no-sign"}, "--no-sign"},
	} {
		code, _, stderr := start(t, f, cfg, append([]string{"bootstrap", "--env", "dev"}, c.args...)...)
		require.Equal(t, ExitDone, code, "%v: %s", c.args, stderr)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		require.Contains(t, stderr, "is not signed ("+c.why)
		in := f.inputs[i].(api.BootstrapInput)
		require.Empty(t, in.Signature)
		require.True(t, in.SignedAt.IsZero())
	}
}

func TestRequestsThatTheRunWouldRefuseExitTwo(t *testing.T) {
	dir := t.TempDir()
	cfg := configWithKey(t, writeKey(t, dir, "alice"))
	writeKey(t, dir, "mallory")
	t.Setenv("IDP_SIGNING_KEY", "")
	t.Setenv("IDP_KEYS_DIR", "")
	f := &fakeStarts{}

	code, _, stderr := start(t, f, cfg, "bootstrap", "--env", "dev", "--as", "alice", "--key", filepath.Join(dir, "mallory"))
	require.Equal(t, ExitBadInput, code)
	require.Contains(t, stderr, "is not listed for alice in idp.yaml (people.alice.keys), so the run would refuse the request")
	code, _, stderr = start(t, f, cfg, "promote", "--service", "time-service", "--tag", "v1.2.3", "--as", "bob", "--key", filepath.Join(dir, "alice"))
	require.Equal(t, ExitBadInput, code, "alice's key under bob's name")
	require.Contains(t, stderr, "is not listed for bob")
	code, _, stderr = start(t, f, cfg, "bootstrap", "--env", "dev", "--as", "alice", "--key", filepath.Join(dir, "alice"), "--no-sign")
	require.Equal(t, ExitBadInput, code)
	require.Contains(t, stderr, "--key and --no-sign contradict each other")
	require.Empty(t, f.inputs, "nothing started")
	_, err := (&globals{as: "  "}).requester()
	require.Equal(t, ExitBadInput, Code(err))
	require.ErrorContains(t, err, "who is asking? pass --as USER")

	// The run refuses a request the CLI could not check (the worker's idp.yaml differs).
	f.fail = temporal.NewNonRetryableApplicationError("request refused: the signature is not by a key of alice", api.ErrUnverifiedRequest, nil)
	code, _, stderr = start(t, f, cfg, "bootstrap", "--env", "dev", "--as", "alice", "--key", filepath.Join(dir, "alice"), "--wait")
	require.Equal(t, ExitBadInput, code, stderr)
	require.Contains(t, stderr, "bootstrap-dev: request refused: the signature is not by a key of alice")
	f.fail = temporal.NewNonRetryableApplicationError("terraform failed", "TerraformError", nil)
	code, _, _ = start(t, f, cfg, "bootstrap", "--env", "dev", "--as", "alice", "--key", filepath.Join(dir, "alice"), "--wait")
	require.Equal(t, ExitFailed, code, "other failures stay exit 1")
}
