package stack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alexpermiakov/idp/internal/codec"
)

// codecKeyID is the one payload key of a sandbox started with --encrypt. The dev server keeps
// its histories in memory, so each start makes a new key.
const codecKeyID = "sandbox-1"

func (s *Stack) codecKeys() string { return filepath.Join(s.opts.Dir, "codec-keys") }

// CodecEndpoint is the codec server the Web UI decodes through, with --encrypt.
func (o Options) CodecEndpoint() string { return fmt.Sprintf("http://localhost:%d", o.CodecPort) }

// codecEnv is the payload encryption of everything that talks to the dev server: the
// sandbox's keyring with --encrypt, and nothing otherwise.
func (s *Stack) codecEnv() []string {
	if !s.opts.Encrypt {
		return nil
	}
	return []string{codec.EnvKeys + "=" + s.codecKeys(), codec.EnvKeyID + "=" + codecKeyID}
}

// clientEnv is this process's environment without its Temporal client settings and payload
// keys, which may be a real cluster's: the sandbox's own are added by the caller.
func clientEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEMPORAL_") && !strings.HasPrefix(kv, "IDP_CODEC_") {
			env = append(env, kv)
		}
	}
	return env
}

// writeCodecKey makes the sandbox's payload key.
func (s *Stack) writeCodecKey() error {
	key := make([]byte, codec.KeySize)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	line := codecKeyID + " " + base64.StdEncoding.EncodeToString(key) + "\n"
	return os.WriteFile(s.codecKeys(), []byte(line), 0o600)
}

// startCodecServer runs `starter codec-server` for the Web UI on localhost, without
// authentication: only this machine reaches it.
func (s *Stack) startCodecServer(ctx context.Context) error {
	ui := s.opts.UIPort
	p, err := startProc("codec-server", filepath.Join(s.opts.Dir, "logs", "codec-server.log"),
		append(clientEnv(), s.codecEnv()...), filepath.Join(s.opts.BinDir, "starter"), "codec-server",
		"--addr", fmt.Sprintf("localhost:%d", s.opts.CodecPort), "--no-auth",
		"--cors-origin", fmt.Sprintf("http://localhost:%d", ui), "--cors-origin", fmt.Sprintf("http://127.0.0.1:%d", ui))
	if err != nil {
		return err
	}
	s.addProc(p)
	endpoint := s.opts.CodecEndpoint()
	if err := waitFor(ctx, "codec server", p, 15*time.Second, func(ctx context.Context) error {
		return codecReady(ctx, endpoint)
	}); err != nil {
		return err
	}
	s.logf("payloads encrypted (key %s in %s); the Web UI decodes them through %s", codecKeyID, s.codecKeys(), endpoint)
	return nil
}

func codecReady(ctx context.Context, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/decode", strings.NewReader(`{"payloads":[]}`))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("codec server answered %s", resp.Status)
	}
	return nil
}
