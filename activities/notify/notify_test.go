package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/alexpermiakov/idp/internal/config"
)

type hook struct {
	mu     sync.Mutex
	bodies []string
	paths  []string
	status func(n int) int
}

func newHook(t *testing.T, status func(n int) int) (*hook, *httptest.Server) {
	t.Helper()
	h := &hook{status: status}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, string(b))
		h.paths = append(h.paths, r.URL.Path)
		n := len(h.bodies)
		h.mu.Unlock()
		w.WriteHeader(h.status(n))
	}))
	t.Cleanup(srv.Close)
	return h, srv
}

func ok(int) int { return http.StatusOK }

func cfg(targets ...config.NotifyTarget) *config.Config {
	return &config.Config{Environments: []config.Environment{{Name: "prod", Notify: targets}}}
}

var ev = Event{Type: ApprovalRequested, Env: "prod", Kind: "promote", Service: "time-service", Tag: "v1.2.3",
	Digest: "sha256:abc", WorkflowID: "promote-time-service-v1.2.3", Who: "alice", Subject: "sha256:abc",
	ApproveCommand: "starter approve promote-time-service-v1.2.3 --subject sha256:abc --as USER", Text: "waits for approval"}

func TestSendPostsBothFormsToTheTargetsThatWantTheEvent(t *testing.T) {
	h, srv := newHook(t, ok)
	file := filepath.Join(t.TempDir(), "url")
	require.NoError(t, os.WriteFile(file, []byte(srv.URL+"/file-secret\n"), 0o600))
	a := &Activities{Config: cfg(
		config.NotifyTarget{Name: "chat", URLFrom: "env:HOOK"},
		config.NotifyTarget{Name: "bus", Format: "json", URLFrom: "file:" + file},
		config.NotifyTarget{Name: "only-promoted", URLFrom: "env:HOOK", Events: []string{Promoted}}),
		Getenv: func(k string) string { return map[string]string{"HOOK": srv.URL + "/env-secret"}[k] }}
	out, err := send(t, a, ev)
	require.NoError(t, err)
	require.Equal(t, []string{"chat", "bus"}, out.Delivered)
	require.Equal(t, []string{"/env-secret", "/file-secret"}, h.paths)

	var slack struct {
		Text   string           `json:"text"`
		Blocks []map[string]any `json:"blocks"`
	}
	require.NoError(t, json.Unmarshal([]byte(h.bodies[0]), &slack))
	require.Equal(t, "waits for approval", slack.Text)
	require.Contains(t, h.bodies[0], ev.ApproveCommand)
	var got Event
	require.NoError(t, json.Unmarshal([]byte(h.bodies[1]), &got))
	require.Equal(t, ev, got)
	require.Contains(t, h.bodies[1], `"event":"approval_requested"`)
}

func TestSendErrorsNeverQuoteTheURL(t *testing.T) {
	_, srv := newHook(t, func(int) int { return http.StatusBadGateway })
	secret := srv.URL + "/T0/B0/very-secret"
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for name, u := range map[string]string{"5xx": secret, "unreachable": closed.URL + "/very-secret"} {
		t.Run(name, func(t *testing.T) {
			a := &Activities{Config: cfg(config.NotifyTarget{Name: "chat", URLFrom: "env:HOOK"}), Getenv: func(string) string { return u }}
			_, err := send(t, a, ev)
			require.Error(t, err)
			require.NotContains(t, err.Error(), "very-secret")
			require.NotContains(t, err.Error(), strings.TrimPrefix(srv.URL, "http://"))
			require.Contains(t, err.Error(), "target chat")
		})
	}
}

func TestSendGivesUpOnRefusalsWithoutRetrying(t *testing.T) {
	h, srv := newHook(t, func(int) int { return http.StatusNotFound })
	a := &Activities{Config: cfg(config.NotifyTarget{Name: "gone", URLFrom: "env:HOOK"}, config.NotifyTarget{Name: "unset", URLFrom: "env:NOPE"}),
		Getenv: func(k string) string {
			if k == "HOOK" {
				return srv.URL + "/x"
			}
			return ""
		}}
	out, err := send(t, a, ev)
	require.NoError(t, err, "a 404 or a missing variable does not get better by retrying")
	require.Equal(t, []string{"gone", "unset"}, out.Failed)
	require.Len(t, h.bodies, 1)
}

func TestSendToAnUnknownEnvIsNotRetried(t *testing.T) {
	a := &Activities{Config: cfg()}
	_, err := send(t, a, Event{Type: Promoted, Env: "qa"})
	require.ErrorContains(t, err, `unknown environment "qa"`)
}

// send runs a.Send as an activity, as a worker would.
func send(t *testing.T, a *Activities, ev Event) (SendOutput, error) {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	v, err := env.ExecuteActivity(a.Send, ev)
	var out SendOutput
	if err == nil {
		require.NoError(t, v.Get(&out))
	}
	return out, err
}
