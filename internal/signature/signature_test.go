package signature

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hiddeco/sshsig"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	return s
}

func statement() Statement {
	return Statement{WorkflowID: "promote-time-service-v1.2.3", Env: "prod", Decision: "approve",
		Subject: "sha256:" + string(bytes.Repeat([]byte("a"), 64)), Comment: "release notes checked",
		SignedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func TestVerify(t *testing.T) {
	alice, mallory := newSigner(t), newSigner(t)
	st := statement()
	sig, err := Sign(st, alice)
	require.NoError(t, err)

	k, err := Verify(st, sig, []ssh.PublicKey{mallory.PublicKey(), alice.PublicKey()})
	require.NoError(t, err, "good signature")
	require.Equal(t, Fingerprint(alice.PublicKey()), Fingerprint(k))

	_, err = Verify(st, sig, []ssh.PublicKey{mallory.PublicKey()})
	require.ErrorIs(t, err, ErrNotSigner, "wrong key")

	for name, edit := range map[string]func(*Statement){
		"workflow":  func(s *Statement) { s.WorkflowID = "promote-time-service-v1.2.4" },
		"env":       func(s *Statement) { s.Env = "staging" },
		"decision":  func(s *Statement) { s.Decision = "reject" },
		"subject":   func(s *Statement) { s.Subject = "sha256:" + string(bytes.Repeat([]byte("b"), 64)) },
		"comment":   func(s *Statement) { s.Comment = "" },
		"signed-at": func(s *Statement) { s.SignedAt = s.SignedAt.Add(time.Second) },
	} {
		tampered := st
		edit(&tampered)
		_, err := Verify(tampered, sig, []ssh.PublicKey{alice.PublicKey()})
		require.ErrorIs(t, err, ErrMismatch, "tampered %s", name)
	}

	other, err := sshsig.Sign(bytes.NewReader(st.Bytes()), alice, sshsig.HashSHA512, "git")
	require.NoError(t, err)
	_, err = Verify(st, string(sshsig.Armor(other)), []ssh.PublicKey{alice.PublicKey()})
	require.ErrorIs(t, err, ErrMismatch, "other namespace")
	require.ErrorContains(t, err, `namespace is "git"`)

	_, err = Verify(st, "not a signature", []ssh.PublicKey{alice.PublicKey()})
	require.Error(t, err)
}

// TestEncodingIsUnambiguous keeps a value from forging another field's line.
func TestEncodingIsUnambiguous(t *testing.T) {
	a := statement()
	a.Comment = "ok\nsubject: \"sha256:evil\""
	b := statement()
	require.NotEqual(t, a.Bytes(), b.Bytes())
	require.Equal(t, 7, bytes.Count(a.Bytes(), []byte("\n")), "one header and six field lines")
	require.True(t, bytes.HasPrefix(a.Bytes(), []byte(header)))
	// The signing time is encoded in UTC, to the second.
	c := statement()
	c.SignedAt = c.SignedAt.In(time.FixedZone("x", 3600)).Add(300 * time.Millisecond)
	require.Equal(t, statement().Bytes(), c.Bytes())
}

// TestSSHKeygenVerifies checks the signature by hand, as an auditor would, with OpenSSH.
func TestSSHKeygenVerifies(t *testing.T) {
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Fatal("ssh-keygen is not installed: this test checks idp's signatures with OpenSSH itself (Debian: apt-get install openssh-client)")
	}
	alice := newSigner(t)
	st := statement()
	sig, err := Sign(st, alice)
	require.NoError(t, err)

	dir := t.TempDir()
	signers := filepath.Join(dir, "allowed_signers")
	sigFile := filepath.Join(dir, "sig")
	require.NoError(t, os.WriteFile(signers, []byte(AllowedSigners("alice", []ssh.PublicKey{alice.PublicKey()})), 0o600))
	require.NoError(t, os.WriteFile(sigFile, []byte(sig), 0o600))

	verify := func(principal string, msg []byte) (string, error) {
		cmd := exec.Command(keygen, "-Y", "verify", "-n", Namespace, "-f", signers, "-I", principal, "-s", sigFile)
		cmd.Stdin = bytes.NewReader(msg)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := verify("alice", st.Bytes())
	require.NoError(t, err, "ssh-keygen -Y verify: %s", out)
	require.Contains(t, out, `Good "idp" signature for alice`)

	tampered := st
	tampered.Subject = "sha256:other"
	_, err = verify("alice", tampered.Bytes())
	require.Error(t, err, "ssh-keygen accepted a tampered statement")
	_, err = verify("bob", st.Bytes())
	require.Error(t, err, "ssh-keygen accepted the signature for another principal")
}

func TestParseKey(t *testing.T) {
	alice := newSigner(t)
	line := string(ssh.MarshalAuthorizedKey(alice.PublicKey()))
	k, err := ParseKey(line)
	require.NoError(t, err)
	require.Equal(t, Fingerprint(alice.PublicKey()), Fingerprint(k))
	_, err = ParseKey("ssh-ed25519 AAAAnotbase64")
	require.Error(t, err)
	_, err = ParseKeys([]string{line, "garbage"})
	require.ErrorContains(t, err, "key 1")
}
