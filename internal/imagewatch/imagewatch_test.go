package imagewatch

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/config"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func realConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "..", "idp.yaml"))
	require.NoError(t, err)
	return cfg
}

func eventJSON(t *testing.T, edit func(map[string]any)) []byte {
	t.Helper()
	ev := map[string]any{"version": "0", "id": "e-1", "detail-type": "ECR Image Action", "source": "aws.ecr",
		"account": "864992049050", "time": "2026-11-30T10:00:00Z", "region": "us-west-2", "resources": []string{},
		"detail": map[string]any{"result": "SUCCESS", "repository-name": "idp/localtime", "image-digest": digest,
			"action-type": "PUSH", "image-tag": "sha-1a2b3c4"}}
	if edit != nil {
		edit(ev)
	}
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	return b
}

func detail(k string, v any) func(map[string]any) {
	return func(ev map[string]any) { ev["detail"].(map[string]any)[k] = v }
}

func TestParsePush(t *testing.T) {
	cfg := realConfig(t)
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
		msg    string
		want   Push
	}{
		{name: "sha enters dev", body: eventJSON(t, nil),
			want: Push{Service: "time-service", Tag: "sha-1a2b3c4", Digest: digest, Entry: "dev", Last: "dev"}},
		{name: "release enters staging", body: eventJSON(t, detail("image-tag", "v1.2.3")),
			want: Push{Service: "time-service", Tag: "v1.2.3", Digest: digest, Entry: "staging", Last: "staging"}},
		{name: "other service", body: eventJSON(t, detail("repository-name", "idp/version")),
			want: Push{Service: "version-service", Tag: "sha-1a2b3c4", Digest: digest, Entry: "dev", Last: "dev"}},
		{name: "not JSON", body: []byte("{"), status: 400, msg: "not an EventBridge event in JSON"},
		{name: "empty object", body: []byte("{}"), status: 400, msg: "the event lacks account, detail-type, detail.action-type"},
		{name: "other detail type", body: eventJSON(t, func(ev map[string]any) { ev["detail-type"] = "ECR Image Scan" }), status: 400, msg: `detail-type "ECR Image Scan"`},
		{name: "bad digest", body: eventJSON(t, detail("image-digest", "sha256:xyz")), status: 400, msg: "not a sha256 digest"},
		{name: "bad tag", body: eventJSON(t, detail("image-tag", "../x")), status: 400, msg: "not an image tag"},
		{name: "other account", body: eventJSON(t, func(ev map[string]any) { ev["account"] = "111111111111" }), status: 422, msg: "not the tooling account 864992049050"},
		{name: "deletion", body: eventJSON(t, detail("action-type", "DELETE")), status: 422, msg: "a DELETE with result SUCCESS promotes nothing"},
		{name: "failed push", body: eventJSON(t, detail("result", "FAILURE")), status: 422, msg: "only a successful PUSH"},
		{name: "unknown repository", body: eventJSON(t, detail("repository-name", "idp/other")), status: 422, msg: `"idp/other" belongs to no service`},
		{name: "no env takes the tag", body: eventJSON(t, detail("image-tag", "latest")), status: 422, msg: "matches no environment's entry pattern"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePush(cfg, tc.body)
			if tc.status == 0 {
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
				return
			}
			var refused *RefusedError
			require.ErrorAs(t, err, &refused)
			require.Equal(t, tc.status, refused.Status, refused.Msg)
			require.Contains(t, refused.Msg, tc.msg)
		})
	}
}

func TestNewPushEventParses(t *testing.T) {
	b, err := json.Marshal(NewPushEvent("864992049050", "us-west-2", "idp/version", "v2.0.0", digest))
	require.NoError(t, err)
	got, err := ParsePush(realConfig(t), b)
	require.NoError(t, err)
	require.Equal(t, Push{Service: "version-service", Tag: "v2.0.0", Digest: digest, Entry: "staging", Last: "staging"}, got)
}

func TestAuthenticate(t *testing.T) {
	const secret = "0123456789abcdef0123"
	body := []byte(`{"detail-type":"ECR Image Action"}`)
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	require.NoError(t, Authenticate(h("X-Idp-Events-Key", secret), "X-Idp-Events-Key", secret, body))
	require.NoError(t, Authenticate(h(SignatureHeader, Sign(secret, body)), "X-Idp-Events-Key", secret, body))
	for name, hdr := range map[string]http.Header{
		"none":                 h(),
		"wrong secret":         h("X-Idp-Events-Key", "guess"),
		"prefix of secret":     h("X-Idp-Events-Key", secret[:10]),
		"hmac of another":      h(SignatureHeader, Sign(secret, []byte("{}"))),
		"hmac other key":       h(SignatureHeader, Sign("another-secret-0000", body)),
		"wrong key, good hmac": h("X-Idp-Events-Key", "guess", SignatureHeader, Sign(secret, body)),
	} {
		err := Authenticate(hdr, "X-Idp-Events-Key", secret, body)
		require.ErrorIs(t, err, ErrUnauthenticated, name)
		require.NotContains(t, err.Error(), secret, "the secret is never echoed")
	}
}

func TestDecide(t *testing.T) {
	cfg := realConfig(t)
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	imgs := func(tags ...string) []Image { // newest first, pushed a minute apart
		var out []Image
		for i, tag := range tags {
			out = append(out, Image{Tag: tag, Digest: digest, PushedAt: t0.Add(-time.Duration(i) * time.Minute)})
		}
		return out
	}
	reasons := func(ds []Decision) map[string]string {
		out := map[string]string{}
		for _, d := range ds {
			out[d.Env] = d.Push.Tag + " | " + d.Reason
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		images  []Image
		running map[string]string
		want    map[string]string // env → "tag | reason part"
	}{
		{name: "nothing runs: the newest of each entry", images: imgs("sha-bbbbbbb", "v1.2.0", "sha-aaaaaaa", "v1.10.0", "latest"),
			want: map[string]string{"dev": "sha-bbbbbbb | newest tag entering dev", "staging": "v1.10.0 | newest tag entering staging"}},
		{name: "already runs the newest", images: imgs("sha-bbbbbbb", "sha-aaaaaaa", "v1.2.3"),
			running: map[string]string{"dev": "sha-bbbbbbb", "staging": "v1.2.3"},
			want:    map[string]string{"dev": " | dev already runs the newest tag, sha-bbbbbbb", "staging": " | staging already runs the newest tag, v1.2.3"}},
		{name: "never backwards", images: imgs("sha-aaaaaaa", "v1.2.2", "sha-bbbbbbb"),
			running: map[string]string{"dev": "sha-bbbbbbb", "staging": "v1.3.0"},
			want: map[string]string{"dev": "sha-aaaaaaa | newest tag entering dev",
				"staging": " | the newest tag, v1.2.2, is not newer than v1.3.0, which staging runs"}},
		{name: "an older sha pushed later is newer by push time", images: imgs("sha-0000001", "sha-fffffff"),
			running: map[string]string{"dev": "sha-fffffff"},
			want:    map[string]string{"dev": "sha-0000001 | newest tag entering dev", "staging": " | no tag in ECR enters staging"}},
		{name: "dev runs a newer push", images: []Image{{Tag: "sha-aaaaaaa", PushedAt: t0}, {Tag: "sha-bbbbbbb", PushedAt: t0.Add(time.Minute)}},
			running: map[string]string{"dev": "sha-bbbbbbb"},
			want:    map[string]string{"dev": " | dev already runs the newest tag, sha-bbbbbbb", "staging": " | no tag in ECR enters staging"}},
		{name: "no push times: the listing's order", images: []Image{{Tag: "sha-aaaaaaa"}, {Tag: "sha-bbbbbbb"}},
			running: map[string]string{"dev": "sha-bbbbbbb"},
			want:    map[string]string{"dev": "sha-aaaaaaa | newest tag entering dev", "staging": " | no tag in ECR enters staging"}},
		{name: "running tag no longer listed", images: imgs("sha-aaaaaaa", "v1.0.0"),
			running: map[string]string{"dev": "sha-gone000", "staging": "v2.0.0"},
			want: map[string]string{"dev": "sha-aaaaaaa | newest tag entering dev",
				"staging": " | the newest tag, v1.0.0, is not newer than v2.0.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := reasons(Decide(cfg, "time-service", tc.images, tc.running))
			require.Len(t, got, len(tc.want), got)
			for env, want := range tc.want {
				tag, reason, _ := strings.Cut(want, " | ")
				gotTag, gotReason, _ := strings.Cut(got[env], " | ")
				require.Equal(t, tag, gotTag, env)
				require.Contains(t, gotReason, reason, env)
			}
		})
	}
}
