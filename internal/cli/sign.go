package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/alexpermiakov/idp/internal/signature"
	"github.com/alexpermiakov/idp/workflows/api"
)

// keySource says where a decision's signing key comes from: --key, else $IDP_SIGNING_KEY,
// else $IDP_KEYS_DIR/<name> (the sandbox's generated keys), else ssh-agent. explicit is
// false only for the agent, which is used when the gate requires a signature.
func keySource(flag, who string) (path string, explicit bool) {
	if flag != "" {
		return flag, true
	}
	if p := os.Getenv("IDP_SIGNING_KEY"); p != "" {
		return p, true
	}
	if dir := os.Getenv("IDP_KEYS_DIR"); dir != "" {
		p := filepath.Join(dir, normalizeName(who))
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	return "", false
}

// loadSigner reads the key file, or asks ssh-agent for a key; with several agent keys, the
// one listed for who in idp.yaml (wanted) is used.
func loadSigner(path string, wanted []string) (ssh.Signer, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading the signing key: %w", err)
		}
		s, err := signature.SignerFromPEM(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return s, nil
	}
	signers, err := agentSigners()
	if err != nil {
		return nil, err
	}
	for _, s := range signers {
		if listed(s, wanted) {
			return s, nil
		}
	}
	return signers[0], nil
}

// agentSigners are the keys ssh-agent offers at $SSH_AUTH_SOCK.
func agentSigners() ([]ssh.Signer, error) {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, errors.New("no signing key: pass --key FILE, set IDP_SIGNING_KEY, or start ssh-agent with your key")
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("reaching ssh-agent at SSH_AUTH_SOCK: %w", err)
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil || len(signers) == 0 {
		return nil, fmt.Errorf("ssh-agent has no usable key (ssh-add one, or pass --key FILE): %v", err)
	}
	return signers, nil
}

// listed says whether the signer's key is one of the authorized_keys lines.
func listed(s ssh.Signer, lines []string) bool {
	for _, line := range lines {
		if k, err := signature.ParseKey(line); err == nil && signature.Fingerprint(k) == signature.Fingerprint(s.PublicKey()) {
			return true
		}
	}
	return false
}

// statementFor is what the gate expects signed for this decision on the pending approval.
func statementFor(id string, pa *api.PendingApproval, decision, subject, comment string, now time.Time) signature.Statement {
	return signature.Statement{WorkflowID: id, Env: pa.Env, Decision: decision, Subject: subject, Comment: comment,
		SignedAt: now.UTC().Truncate(time.Second)}
}

// signDecision signs the decision when the gate requires it or a key was named, and returns
// the signature and signing time ("" and zero when unsigned).
func (g *globals) signDecision(o decideOptions, pa *api.PendingApproval, who, subject string) (string, time.Time, error) {
	path, explicit := keySource(o.key, who)
	if !explicit && !pa.RequireSignatures {
		return "", time.Time{}, nil
	}
	var wanted []string
	if cfg, err := g.loadConfig(); err == nil {
		wanted = cfg.Keys(who)
	}
	signer, err := loadSigner(path, wanted)
	if err != nil {
		return "", time.Time{}, badInput(fmt.Errorf("%s in %s needs a signed decision: %w", pa.What, pa.Env, err))
	}
	decision, comment := "approve", o.comment
	if o.reject {
		decision, comment = "reject", o.reason
	}
	st := statementFor(o.id, pa, decision, subject, comment, g.now())
	sig, err := signature.Sign(st, signer)
	if err != nil {
		return "", time.Time{}, err
	}
	return sig, st.SignedAt, nil
}
