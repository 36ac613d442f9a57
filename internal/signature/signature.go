// Package signature owns idp's signed decisions: the statement a person signs when they
// approve or reject, its canonical bytes, and SSH signatures over it in the SSHSIG format
// (namespace "idp"), the same format `ssh-keygen -Y sign` writes and `ssh-keygen -Y verify`
// checks. It does no I/O: callers hand it keys, signers and signatures.
package signature

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// Namespace is the SSHSIG namespace of idp's statements; a signature made for another purpose
// (git commits use "git", files "file") never verifies as an idp decision.
const Namespace = "idp"

// hash is the SSHSIG message hash; ssh-keygen uses sha512 by default.
const hash = sshsig.HashSHA512

// header starts every encoded statement; a new encoding gets a new header.
const header = "idp-statement-v1\n"

// DecisionRequest is the decision of a signed request: the person asks for the run (a
// bootstrap or a promotion), so four-eyes can tell their key from an approver's.
const DecisionRequest = "request"

// Statement is what a person signs: one decision on one subject of one run.
type Statement struct {
	WorkflowID string
	Env        string
	// Decision is "approve", "reject" or DecisionRequest.
	Decision string
	// Subject is the plan sha256 or image digest decided on; for a request, what is asked for.
	Subject string
	// Comment is the approval's comment or the rejection's reason.
	Comment string
	// SignedAt is when it was signed; encoded in UTC to the second.
	SignedAt time.Time
}

// Bytes is the statement's canonical encoding: a header line, then one `key: value` line per
// field in a fixed order, every value a Go-quoted string, so no value can forge a line.
func (s Statement) Bytes() []byte {
	var b bytes.Buffer
	b.WriteString(header)
	for _, kv := range [][2]string{
		{"workflow", s.WorkflowID},
		{"env", s.Env},
		{"decision", s.Decision},
		{"subject", s.Subject},
		{"comment", s.Comment},
		{"signed-at", s.SignedAt.UTC().Truncate(time.Second).Format(time.RFC3339)},
	} {
		b.WriteString(kv[0] + ": " + strconv.Quote(kv[1]) + "\n")
	}
	return b.Bytes()
}

// Sign signs the statement and returns the armored signature ("-----BEGIN SSH SIGNATURE-----").
func Sign(s Statement, signer ssh.Signer) (string, error) {
	sig, err := sshsig.Sign(bytes.NewReader(s.Bytes()), signer, hash, Namespace)
	if err != nil {
		return "", fmt.Errorf("signing the statement: %w", err)
	}
	return string(sshsig.Armor(sig)), nil
}

// ErrNotSigner means the signature was made by a key that is not among the allowed ones.
var ErrNotSigner = errors.New("signed by a key that is not allowed")

// ErrMismatch means the signature is by an allowed key but not over this statement (another
// run, env, decision, subject, comment or signing time) or not in the idp namespace.
var ErrMismatch = errors.New("signature does not match the statement")

// Verify checks the armored signature over the statement against the allowed keys and returns
// the key that made it.
func Verify(s Statement, armored string, allowed []ssh.PublicKey) (ssh.PublicKey, error) {
	sig, err := sshsig.Unarmor([]byte(armored))
	if err != nil {
		return nil, fmt.Errorf("reading the signature: %w", err)
	}
	signer := sig.PublicKey
	for _, k := range allowed {
		if !bytes.Equal(k.Marshal(), signer.Marshal()) {
			continue
		}
		if sig.Namespace != Namespace {
			return nil, fmt.Errorf("%w: namespace is %q, want %q", ErrMismatch, sig.Namespace, Namespace)
		}
		if err := sshsig.Verify(bytes.NewReader(s.Bytes()), sig, k, sig.HashAlgorithm, Namespace); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMismatch, err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNotSigner, ssh.FingerprintSHA256(signer))
}

// SignerKey is the public key inside an armored signature, or nil when it cannot be read.
func SignerKey(armored string) ssh.PublicKey {
	sig, err := sshsig.Unarmor([]byte(armored))
	if err != nil {
		return nil
	}
	return sig.PublicKey
}

// ParseKey reads one authorized_keys line ("ssh-ed25519 AAAA... comment").
func ParseKey(line string) (ssh.PublicKey, error) {
	k, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return nil, fmt.Errorf("not an SSH public key line: %w", err)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("more than one key on the line")
	}
	return k, nil
}

// ParseKeys reads authorized_keys lines, failing on the first bad one.
func ParseKeys(lines []string) ([]ssh.PublicKey, error) {
	keys := make([]ssh.PublicKey, 0, len(lines))
	for i, l := range lines {
		k, err := ParseKey(l)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// Fingerprint is the key's SHA256 fingerprint as ssh-keygen -l prints it.
func Fingerprint(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }

// SignerFromPEM reads an unencrypted OpenSSH or PEM private key.
func SignerFromPEM(pem []byte) (ssh.Signer, error) {
	s, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, errors.New("the key is passphrase-protected: load it into ssh-agent instead")
	}
	if err != nil {
		return nil, fmt.Errorf("reading the private key: %w", err)
	}
	return s, nil
}

// AllowedSigners is an ssh-keygen allowed_signers file for one principal and its keys, for
// verifying a statement by hand with `ssh-keygen -Y verify -n idp`.
func AllowedSigners(principal string, keys []ssh.PublicKey) string {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(principal + ` namespaces="` + Namespace + `" ` + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + "\n")
	}
	return b.String()
}
