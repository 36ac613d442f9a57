package codec

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

const (
	aliceToken = "alice-0123456789abcdef0123"
	ciToken    = "ci-fedcba9876543210fedcba"
	webUI      = "http://localhost:8233"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// codecServer serves c behind the tokens of alice and ci, for the Web UI's origin.
func codecServer(t *testing.T, c *Codec) *httptest.Server {
	t.Helper()
	tokens, err := LoadTokens(write(t, filepath.Join(t.TempDir(), "tokens"), "alice "+aliceToken+"\nci "+ciToken+"\n"))
	require.NoError(t, err)
	srv := httptest.NewServer(Handler(c, ServerOptions{Origins: []string{webUI}, Auth: tokens, Log: quiet()}))
	t.Cleanup(srv.Close)
	return srv
}

// remote is a client of the codec server as Temporal's CLI makes one (--codec-endpoint,
// --codec-auth).
func remote(endpoint, token string) converter.PayloadCodec {
	return converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{Endpoint: endpoint, ModifyRequest: func(r *http.Request) error {
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		return nil
	}})
}

func TestCodecServerDecodesForTokenHolders(t *testing.T) {
	c := newCodec(t, "k1", map[string][]byte{"k1": newKey(t)})
	srv := codecServer(t, c)
	sealed, err := c.DataConverter().ToPayload("time-service v1.2.3")
	require.NoError(t, err)

	plain, err := remote(srv.URL+"/default", aliceToken).Decode([]*commonpb.Payload{sealed})
	require.NoError(t, err)
	var s string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(plain[0], &s))
	require.Equal(t, "time-service v1.2.3", s)

	// The Web UI encodes what a person types (a signal's input) through the same server.
	enc, err := remote(srv.URL, ciToken).Encode(plain)
	require.NoError(t, err)
	require.Equal(t, Encoding, string(enc[0].Metadata["encoding"]))

	_, err = remote(srv.URL, "").Decode([]*commonpb.Payload{sealed})
	require.ErrorContains(t, err, "Unauthorized: no credentials")
	_, err = remote(srv.URL, "mallory-0123456789abcdef").Decode([]*commonpb.Payload{sealed})
	require.ErrorContains(t, err, "Forbidden: this token may not use the codec")
}

func TestCodecServerStatusesAndCORS(t *testing.T) {
	srv := codecServer(t, newCodec(t, "k1", map[string][]byte{"k1": newKey(t)}))
	body := `{"payloads":[]}`
	for name, tc := range map[string]struct {
		method, path, origin, token string
		status                      int
		headers                     map[string]string
	}{
		"preflight from the Web UI": {method: "OPTIONS", path: "/decode", origin: webUI, status: 204, headers: map[string]string{
			"Access-Control-Allow-Origin": webUI, "Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Methods": "POST, OPTIONS", "Access-Control-Allow-Headers": "Authorization, Authorization-Extras, Content-Type, X-Namespace"}},
		"preflight from elsewhere": {method: "OPTIONS", path: "/decode", origin: "https://evil.example", status: 403},
		"decode from the Web UI":   {method: "POST", path: "/decode", origin: webUI, token: aliceToken, status: 200, headers: map[string]string{"Access-Control-Allow-Origin": webUI}},
		"decode from elsewhere":    {method: "POST", path: "/decode", origin: "https://evil.example", token: aliceToken, status: 403},
		"no token": {method: "POST", path: "/default/decode", origin: webUI, status: 401, headers: map[string]string{"WWW-Authenticate": `Bearer realm="idp codec"`,
			"Access-Control-Allow-Origin": webUI}}, // so the Web UI can show why
		"not a bearer token":      {method: "POST", path: "/decode", token: "-", status: 401},
		"an unknown token":        {method: "POST", path: "/decode", token: strings.Repeat("x", 24), status: 403},
		"GET":                     {method: "GET", path: "/decode", token: aliceToken, status: 405},
		"another path":            {method: "POST", path: "/admin", token: aliceToken, status: 404},
		"the CLI, mounted deeper": {method: "POST", path: "/codec/default/decode", token: ciToken, status: 200},
	} {
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		switch tc.token {
		case "":
		case "-":
			req.Header.Set("Authorization", "Basic YWxpY2U6cHc=")
		default:
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, tc.status, resp.StatusCode, name)
		for k, v := range tc.headers {
			require.Equal(t, v, resp.Header.Get(k), "%s: %s", name, k)
		}
	}
}

func TestTokensFilesSayWhatToFix(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct{ text, want string }{
		"short":  {"alice short\n", "line 1: the token of alice is 5 characters; use at least 20"},
		"fields": {"alice\n", `line 1: want "NAME TOKEN", found 1 fields`},
		"twice":  {"alice " + aliceToken + "\nalice " + ciToken + "\n", "line 2: alice already has a token on line 1"},
		"shared": {"alice " + aliceToken + "\nbob " + aliceToken + "\n", "line 2: the token of bob is the token on line 1"},
		"empty":  {"# nobody yet\n", "holds no token"},
	} {
		_, err := LoadTokens(write(t, filepath.Join(dir, name), tc.text))
		require.ErrorContains(t, err, tc.want, name)
		require.NotContains(t, err.Error(), aliceToken, name)
	}
	_, err := LoadTokens(filepath.Join(dir, "absent"))
	require.ErrorContains(t, err, "tokens file: open "+filepath.Join(dir, "absent"))
}

func TestUserinfoLetsInTheAllowedPeopleTheProviderVouchesFor(t *testing.T) {
	var calls atomic.Int32
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch r.Header.Get("Authorization") {
		case "Bearer alice-access":
			fmt.Fprint(w, `{"sub":"u-1","email":"Alice@Example.com","email_verified":true}`)
		case "Bearer carol-access":
			fmt.Fprint(w, `{"sub":"u-3","email":"carol@example.com"}`)
		case "Bearer claims-alice":
			fmt.Fprint(w, `{"sub":"u-9","email":"alice@example.com","email_verified":false}`)
		case "Bearer down":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer idp.Close()
	u, err := NewUserinfo(idp.URL, []string{"alice@example.com", "u-3"})
	require.NoError(t, err)
	srv := httptest.NewServer(Handler(newCodec(t, "k1", map[string][]byte{"k1": newKey(t)}), ServerOptions{Auth: u, Log: quiet()}))
	defer srv.Close()
	post := func(token string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+"/decode", strings.NewReader(`{"payloads":[]}`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for token, want := range map[string]struct {
		status int
		text   string
	}{
		"alice-access": {200, "{}"},
		"carol-access": {200, ""},
		"bob-access":   {401, "the identity provider does not accept this token"},
		"claims-alice": {403, "u-9 may not decode payloads (not in --allow)"},
		"down":         {502, "answered 500 Internal Server Error"},
	} {
		status, text := post(token)
		require.Equal(t, want.status, status, token)
		require.Contains(t, text, want.text, token)
	}
	before := calls.Load()
	status, _ := post("alice-access")
	require.Equal(t, 200, status)
	require.Equal(t, before, calls.Load(), "the provider's answer is remembered for a while")

	_, err = NewUserinfo("idp.example.com/userinfo", nil)
	require.ErrorContains(t, err, "want the provider's userinfo endpoint, https://")
	require.ErrorContains(t, err, "--userinfo needs --allow EMAIL")
}

func TestCodecServerAnswersProtobufJSON(t *testing.T) {
	c := newCodec(t, "k1", map[string][]byte{"k1": newKey(t)})
	srv := codecServer(t, c)
	sealed, err := c.Encode([]*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"v1.2.3"`)}})
	require.NoError(t, err)
	body, err := json.Marshal(&commonpb.Payloads{Payloads: sealed})
	require.NoError(t, err)
	req, _ := http.NewRequest("POST", srv.URL+"/decode", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+aliceToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, 200, resp.StatusCode, string(b))
	// What the Web UI reads: base64 of the plaintext metadata and data.
	require.JSONEq(t, `{"payloads":[{"metadata":{"encoding":"anNvbi9wbGFpbg=="},"data":"InYxLjIuMyI="}]}`, string(b))
}
