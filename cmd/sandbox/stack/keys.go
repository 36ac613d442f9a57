package stack

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
)

// People are the sandbox's approvers; each gets a generated SSH key under .sandbox/keys/.
var People = []string{"alice", "bob", "carol"}

// KeysDir is where the people's private keys live; .sandbox/env exports it as IDP_KEYS_DIR so
// `starter approve --as NAME` signs with NAME's key.
func (s *Stack) KeysDir() string { return filepath.Join(s.opts.Dir, "keys") }

// ensureKeys generates each person's ed25519 key once (a restarted stack keeps them) and
// returns their public keys as authorized_keys lines.
func (s *Stack) ensureKeys() (map[string]string, error) {
	if err := os.MkdirAll(s.KeysDir(), 0o700); err != nil {
		return nil, err
	}
	pubs := map[string]string{}
	for _, name := range People {
		path := filepath.Join(s.KeysDir(), name)
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			b, err = newKey(path, name)
		}
		if err != nil {
			return nil, fmt.Errorf("key of %s: %w", name, err)
		}
		signer, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("key of %s at %s: %w", name, path, err)
		}
		pubs[name] = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " " + name + "@sandbox"
	}
	return pubs, nil
}

func newKey(path, name string) ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, name+"@sandbox")
	if err != nil {
		return nil, err
	}
	b := pem.EncodeToMemory(block)
	return b, os.WriteFile(path, b, 0o600)
}

// peopleYAML is the people: section of the sandbox's idp.yaml with the generated keys.
func (s *Stack) peopleYAML() (string, error) {
	keys, err := s.ensureKeys()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated keys: the private halves are in %s (IDP_KEYS_DIR).\npeople:\n", s.KeysDir())
	for _, name := range People {
		fmt.Fprintf(&b, "  %s: {keys: [%q]}\n", name, keys[name])
	}
	return b.String(), nil
}
