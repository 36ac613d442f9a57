package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/internal/imagewatch"
	"github.com/alexpermiakov/idp/workflows/api"
)

const (
	secret = "0123456789abcdef0123456789abcdef"
	digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// starts records ExecuteWorkflow calls and, like the server, refuses a second start of an ID.
type starts struct {
	mu    sync.Mutex
	calls []client.StartWorkflowOptions
	ins   []api.PromoteInput
	ids   map[string]bool
}

func (s *starts) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, _ interface{}, args ...interface{}) (client.WorkflowRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids[o.ID] {
		return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("already started", "", "run-1")
	}
	s.ids[o.ID] = true
	s.calls = append(s.calls, o)
	s.ins = append(s.ins, args[0].(api.PromoteInput))
	return fakeRun{}, nil
}

type fakeRun struct{ client.WorkflowRun }

func (fakeRun) GetRunID() string { return "run-1" }

func newServer(t *testing.T) (*httptest.Server, *starts, *bytes.Buffer) {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "..", "..", "idp.yaml"))
	require.NoError(t, err)
	var logs bytes.Buffer
	s := &starts{ids: map[string]bool{}}
	srv := httptest.NewServer(&Handler{Config: cfg, Secret: secret, Client: s, Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	t.Cleanup(srv.Close)
	return srv, s, &logs
}

func event(tag string) []byte {
	b, _ := json.Marshal(map[string]any{"version": "0", "id": "1", "detail-type": "ECR Image Action", "source": "aws.ecr",
		"account": "864992049050", "region": "us-west-2", "time": "2026-11-30T10:00:00Z",
		"detail": map[string]any{"action-type": "PUSH", "result": "SUCCESS", "repository-name": "idp/localtime",
			"image-tag": tag, "image-digest": digest}})
	return b
}

func post(t *testing.T, url string, body []byte, hdr map[string]string) (int, Response) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+Path, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var r Response
	require.NoError(t, json.Unmarshal(b, &r), string(b))
	return resp.StatusCode, r
}

func TestPushEventStartsPromoteOnce(t *testing.T) {
	srv, s, logs := newServer(t)
	key := map[string]string{"X-Idp-Events-Key": secret}
	code, r := post(t, srv.URL, event("sha-1a2b3c4"), key)
	require.Equal(t, http.StatusAccepted, code, r.Message)
	require.Equal(t, Response{Status: "started", WorkflowID: "promote-time-service-sha-1a2b3c4", RunID: "run-1",
		Message: "started promote-time-service-sha-1a2b3c4: time-service sha-1a2b3c4 enters dev"}, r)
	require.Len(t, s.calls, 1)
	require.Equal(t, api.PromoteID("time-service", "sha-1a2b3c4"), s.calls[0].ID)
	require.Equal(t, api.PromoteInput{Service: "time-service", Tag: "sha-1a2b3c4", Requester: imagewatch.RequesterEvent}, s.ins[0],
		"unsigned, by the watch, as far as policy allows")

	// EventBridge delivers at least once: the same event again starts nothing.
	code, r = post(t, srv.URL, event("sha-1a2b3c4"), key)
	require.Equal(t, http.StatusConflict, code)
	require.Equal(t, "already-started", r.Status)
	require.Contains(t, r.Message, "nothing new started")
	require.Len(t, s.calls, 1)

	// HMAC of the body instead of the key itself.
	body := event("v1.2.3")
	code, r = post(t, srv.URL, body, map[string]string{imagewatch.SignatureHeader: imagewatch.Sign(secret, body)})
	require.Equal(t, http.StatusAccepted, code, r.Message)
	require.Contains(t, r.Message, "v1.2.3 enters staging")
	require.Len(t, s.calls, 2)
	require.NotContains(t, logs.String(), secret)
}

func TestBadEventsStartNothing(t *testing.T) {
	srv, s, logs := newServer(t)
	key := map[string]string{"X-Idp-Events-Key": secret}
	body := event("sha-1a2b3c4")
	for _, tc := range []struct {
		name string
		body []byte
		hdr  map[string]string
		code int
		msg  string
	}{
		{"unsigned", body, nil, 401, "send the shared secret in the X-Idp-Events-Key header"},
		{"forged key", body, map[string]string{"X-Idp-Events-Key": "not-the-secret"}, 401, "does not hold the shared secret"},
		{"forged hmac", body, map[string]string{imagewatch.SignatureHeader: imagewatch.Sign("another-secret-000", body)}, 401, "is not the body's HMAC"},
		{"hmac of another body", event("sha-9999999"), map[string]string{imagewatch.SignatureHeader: imagewatch.Sign(secret, body)}, 401, "is not the body's HMAC"},
		{"malformed", []byte(`{"detail-type":`), key, 400, "not an EventBridge event in JSON"},
		{"not an image action", []byte(`{"detail-type":"Object Created","source":"aws.s3"}`), key, 400, "the event lacks"},
		{"tag no env takes", event("latest"), key, 422, "matches no environment's entry pattern"},
		{"deletion", bytes.Replace(body, []byte(`"PUSH"`), []byte(`"DELETE"`), 1), key, 422, "promotes nothing"},
		{"too large", append(body, bytes.Repeat([]byte(" "), maxBody)...), key, 413, "over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, r := post(t, srv.URL, tc.body, tc.hdr)
			require.Equal(t, tc.code, code, r.Message)
			require.Equal(t, "refused", r.Status)
			require.Contains(t, r.Message, tc.msg)
		})
	}
	resp, err := http.Get(srv.URL + Path)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.Empty(t, s.calls, "no refused event starts anything")
	require.NotContains(t, logs.String(), secret)
	require.True(t, strings.Contains(logs.String(), `"status":401`), "refusals are logged")
}

// TestAPinnedEnvIsLeftAlone: a push for an env where the service is pinned (after a rollback,
// or by starter pin) starts nothing and says how to lift the pin; a pin it cannot read is a
// 503, which EventBridge retries.
func TestAPinnedEnvIsLeftAlone(t *testing.T) {
	srv, s, _ := newServer(t)
	h := srv.Config.Handler.(*Handler)
	var asked []string
	pinErr := error(nil)
	h.Pinned = func(_ context.Context, env, service string) (*controls.Pin, error) {
		asked = append(asked, service+"/"+env)
		if pinErr != nil {
			return nil, pinErr
		}
		return &controls.Pin{Service: service, Who: "idp (rollback)", Reason: "rolled back to v1.2.2"}, nil
	}
	key := map[string]string{"X-Idp-Events-Key": secret}
	code, r := post(t, srv.URL, event("sha-1a2b3c4"), key)
	require.Equal(t, http.StatusConflict, code)
	require.Equal(t, "pinned", r.Status)
	require.Equal(t, "time-service is pinned in dev by idp (rollback): rolled back to v1.2.2; nothing started "+
		"(starter unpin --service time-service --env dev, then push again or starter promote)", r.Message)
	require.Equal(t, []string{"time-service/dev"}, asked)
	require.Empty(t, s.calls)

	pinErr = errors.New("temporal: unavailable")
	code, r = post(t, srv.URL, event("sha-1a2b3c4"), key)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, r.Message, "could not read the pins of dev")
	require.Empty(t, s.calls)
}
