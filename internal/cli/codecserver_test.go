package cli

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/alexpermiakov/idp/internal/codec"
)

const testKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes, base64

func TestCodecServerFlagsSayWhatToFix(t *testing.T) {
	t.Setenv("IDP_CODEC_KEY_k1", testKey)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"say who may decode: --tokens FILE"}},
		{[]string{"--no-auth", "--tokens", "x"}, []string{"exclude each other"}},
		{[]string{"--no-auth", "--addr", ":8081"}, []string{"--no-auth would serve decrypted payloads to anyone who reaches :8081"}},
		{[]string{"--no-auth", "--addr", "0.0.0.0:8081"}, []string{"bind it to localhost"}},
		{[]string{"--allow", "alice@example.com", "--tokens", "x"}, []string{"--allow lists who --userinfo lets in"}},
		{[]string{"--no-auth", "--addr", "8081"}, []string{`--addr "8081": want HOST:PORT`}},
		{[]string{"--no-auth", "--cors-origin", "localhost:8233", "--cors-origin", "http://localhost:8233/namespaces"},
			[]string{`--cors-origin "localhost:8233": want the Web UI's origin`, `--cors-origin "http://localhost:8233/namespaces"`}},
		{[]string{"--no-auth", "--tls-cert", "c.pem"}, []string{"--tls-cert and --tls-key go together"}},
		{[]string{"--userinfo", "https://login.example.com/userinfo"}, []string{"--userinfo needs --allow"}},
		{[]string{"--tokens", filepath.Join(t.TempDir(), "absent")}, []string{"tokens file: open"}},
	} {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), append([]string{"codec-server"}, tc.args...), &out, &errOut)
		require.Equal(t, ExitBadInput, code, "%v: %s", tc.args, errOut.String())
		for _, want := range tc.want {
			require.Contains(t, errOut.String(), want, tc.args)
		}
	}

	t.Setenv("IDP_CODEC_KEY_k1", "")
	os.Unsetenv("IDP_CODEC_KEY_k1")
	var errOut bytes.Buffer
	require.Equal(t, ExitBadInput, Main(context.Background(), []string{"codec-server", "--no-auth"}, &bytes.Buffer{}, &errOut))
	require.Contains(t, errOut.String(), "no payload keys: set IDP_CODEC_KEYS (or IDP_CODEC_KEY_<ID>) as for the worker")
}

func TestCodecServerServesUntilInterrupted(t *testing.T) {
	t.Setenv("IDP_CODEC_KEY_k1", testKey)
	tokens := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(tokens, []byte("ci "+strings.Repeat("t", 24)+"\n"), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	var logs bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- serveCodec(ctx, &globals{errOut: &logs}, codecServerOptions{addr: "127.0.0.1:0", tokens: tokens,
			origins: []string{"http://localhost:8233"}, listening: func(a string) { addr <- a }})
	}()
	endpoint := "http://" + <-addr

	ring, err := codec.Load(codec.OSEnv)
	require.NoError(t, err)
	c, err := codec.New(ring)
	require.NoError(t, err)
	sealed, err := c.DataConverter().ToPayload("time-service")
	require.NoError(t, err)
	remote := converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{Endpoint: endpoint + "/default",
		ModifyRequest: func(r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+strings.Repeat("t", 24))
			return nil
		}})
	plain, err := remote.Decode([]*commonpb.Payload{sealed})
	require.NoError(t, err)
	require.Equal(t, `"time-service"`, string(plain[0].Data))

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the codec server did not stop when interrupted")
	}
	require.Contains(t, logs.String(), `codec="AES-256-GCM, encrypting with key \"k1\", decrypting with \"k1\""`)
	require.Contains(t, logs.String(), "op=decode who=ci namespace=default")
	require.NotContains(t, logs.String(), testKey)
	require.NotContains(t, logs.String(), strings.Repeat("t", 24))
}
