package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/crypto/ssh"

	"github.com/alexpermiakov/idp/internal/signature"
	"github.com/alexpermiakov/idp/workflows/api"
)

const (
	runID   = "promote-time-service-v1.2.3"
	pending = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
)

var signedAt = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// writeKey generates an ed25519 key, writes its private half as an OpenSSH key file named
// after the person in dir, and returns its public key.
func writeKey(t *testing.T, dir, name string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, name)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600))
	k, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return k
}

// fakeGate is a Temporal client whose run waits for a signed approval: it answers the status
// query and checks an approve update's signature the way the gate does.
type fakeGate struct {
	client.Client
	people map[string]ssh.PublicKey
	sent   []api.ApproveInput
}

func (f *fakeGate) Close() {}

func (f *fakeGate) QueryWorkflow(context.Context, string, string, string, ...interface{}) (converter.EncodedValue, error) {
	return value{api.Status{WorkflowID: runID, Stage: api.StageWaitingApproval, PendingApproval: &api.PendingApproval{
		Env: "prod", Subject: pending, What: "image digest", RequireSignatures: true}}}, nil
}

func (f *fakeGate) UpdateWorkflow(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	in := o.Args[0].(api.ApproveInput)
	f.sent = append(f.sent, in)
	st := signature.Statement{WorkflowID: o.WorkflowID, Env: "prod", Decision: "approve", Subject: in.Subject, Comment: in.Comment, SignedAt: in.SignedAt}
	var allowed []ssh.PublicKey
	if k, ok := f.people[in.Who]; ok {
		allowed = append(allowed, k)
	}
	if _, err := signature.Verify(st, in.Signature, allowed); err != nil {
		return nil, temporal.NewApplicationError(fmt.Sprintf("the signature is not by a key of %s: %v", in.Who, err), "")
	}
	return handle{}, nil
}

type value struct{ st api.Status }

func (v value) HasValue() bool { return true }
func (v value) Get(p interface{}) error {
	*(p.(*api.Status)) = v.st
	return nil
}

type handle struct{ client.WorkflowUpdateHandle }

func (handle) Get(_ context.Context, p interface{}) error {
	*(p.(*api.DecisionResult)) = api.DecisionResult{Received: 1, Needed: 1, Message: "approval 1 of 1 recorded for prod"}
	return nil
}

func run(t *testing.T, f *fakeGate, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&globals{out: &out, errOut: &errOut, dial: func(client.Options) (client.Client, error) { return f, nil },
		clock: func() time.Time { return signedAt }})
	root.SetArgs(append(args, "--config", "/nonexistent"))
	err := root.ExecuteContext(context.Background())
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return Code(err), out.String() + errOut.String()
}

func TestApproveSignsThePendingStatement(t *testing.T) {
	dir := t.TempDir()
	f := &fakeGate{people: map[string]ssh.PublicKey{"alice": writeKey(t, dir, "alice"), "bob": writeKey(t, dir, "bob")}}
	t.Setenv("IDP_SIGNING_KEY", "")
	t.Setenv("IDP_KEYS_DIR", "")
	t.Setenv("SSH_AUTH_SOCK", "")

	code, out := run(t, f, "approve", runID, "--as", "bob", "--key", filepath.Join(dir, "bob"), "--comment", "notes read")
	require.Equal(t, ExitDone, code, out)
	require.Contains(t, out, "approval 1 of 1 recorded")
	require.Equal(t, signedAt, f.sent[0].SignedAt)
	require.Equal(t, pending, f.sent[0].Subject)

	code, out = run(t, f, "approve", runID, "--as", "bob", "--key", filepath.Join(dir, "alice"))
	require.Equal(t, ExitBadInput, code, "another person's name with your own key")
	require.Contains(t, out, "refused: the signature is not by a key of bob")

	t.Setenv("IDP_KEYS_DIR", dir)
	code, out = run(t, f, "approve", runID, "--as", "alice")
	require.Equal(t, ExitDone, code, "IDP_KEYS_DIR/<name> signs for --as NAME: %s", out)

	t.Setenv("IDP_KEYS_DIR", "")
	code, out = run(t, f, "approve", runID, "--as", "alice")
	require.Equal(t, ExitBadInput, code)
	require.Contains(t, out, "image digest in prod needs a signed decision: no signing key")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "junk"), []byte("not a key"), 0o600))
	code, out = run(t, f, "approve", runID, "--as", "alice", "--key", filepath.Join(dir, "junk"))
	require.Equal(t, ExitBadInput, code)
	require.Contains(t, out, "reading the private key")
}

func TestKeySourceOrder(t *testing.T) {
	dir := t.TempDir()
	writeKey(t, dir, "carol")
	t.Setenv("IDP_SIGNING_KEY", "/env/key")
	t.Setenv("IDP_KEYS_DIR", dir)
	p, explicit := keySource("/flag/key", "carol")
	require.Equal(t, "/flag/key", p)
	require.True(t, explicit)
	p, _ = keySource("", "carol")
	require.Equal(t, "/env/key", p)
	t.Setenv("IDP_SIGNING_KEY", "")
	p, _ = keySource("", "Carol")
	require.Equal(t, filepath.Join(dir, "carol"), p)
	p, explicit = keySource("", "dave")
	require.Empty(t, p)
	require.False(t, explicit, "no file for dave: ssh-agent")
}
