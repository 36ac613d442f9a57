package cli

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/alexpermiakov/idp/internal/signature"
	"github.com/alexpermiakov/idp/workflows/api"
)

func TestDestroyStartsASignedRun(t *testing.T) {
	dir := t.TempDir()
	alice := writeKey(t, dir, "alice")
	cfg := configWithKey(t, alice)
	t.Setenv("IDP_SIGNING_KEY", "")
	t.Setenv("IDP_KEYS_DIR", "")
	t.Setenv("SSH_AUTH_SOCK", "")
	f := &fakeStarts{}

	code, stdout, stderr := start(t, f, cfg, "destroy", "--env", "staging", "--purge-state", "--as", "alice", "--key", filepath.Join(dir, "alice"))
	require.Equal(t, ExitDone, code, stderr)
	require.Contains(t, stdout, "started destroy-staging as alice")
	in := f.inputs[0].(api.DestroyInput)
	require.Equal(t, api.DestroyInput{Env: "staging", PurgeState: true, Requester: "alice", Signature: in.Signature, SignedAt: signedAt}, in)
	st := in.Statement("destroy-staging")
	require.Equal(t, signature.Statement{WorkflowID: "destroy-staging", Env: "staging", Decision: "request", Subject: "staging",
		Comment: "purge-state", SignedAt: signedAt}, st)
	_, err := signature.Verify(st, in.Signature, []ssh.PublicKey{alice})
	require.NoError(t, err)

	code, stdout, stderr = start(t, f, cfg, "destroy", "--env", "dev", "--pr", "42", "--as", "ci", "--no-sign")
	require.Equal(t, ExitDone, code, stderr)
	require.Contains(t, stdout, "started destroy-dev-pr-42 as ci")
	require.Equal(t, api.DestroyInput{Env: "dev", PR: 42, Requester: "ci"}, f.inputs[1])
}

func TestDestroyRefusesBadInputNamingTheFix(t *testing.T) {
	cfg := filepath.Join("..", "..", "idp.yaml")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"destroy"}, "--env is required"},
		{[]string{"destroy", "--env", "qa"}, `unknown environment "qa" (idp.yaml defines: dev, staging, prod)`},
		{[]string{"destroy", "--env", "dev", "--pr", "-1"}, "--pr must be a pull request number"},
		{[]string{"destroy", "--env", "dev", "--pr", "3", "--purge-state"}, "--purge-state cannot go with --pr"},
	} {
		f := &fakeStarts{}
		code, _, stderr := start(t, f, cfg, append(c.args, "--as", "alice", "--no-sign")...)
		require.Equal(t, ExitBadInput, code, "%v", c.args)
		require.Contains(t, stderr, c.want, "%v", c.args)
		require.Empty(t, f.inputs, "nothing starts on bad input")
	}
}

func TestListTakesKindDestroy(t *testing.T) {
	require.NoError(t, listOptions{kind: api.KindDestroy}.validate())
	require.Equal(t, "IdpKind IS NOT NULL AND IdpKind = 'destroy'", listOptions{kind: api.KindDestroy}.query())
}
