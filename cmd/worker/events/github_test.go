package events

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/imagewatch"
	"github.com/alexpermiakov/idp/workflows/api"
)

// previewStarts records preview starts; no run is ever found up.
type previewStarts struct{ ins []api.BootstrapInput }

func (p *previewStarts) ExecuteWorkflow(_ context.Context, _ client.StartWorkflowOptions, _ interface{}, args ...interface{}) (client.WorkflowRun, error) {
	p.ins = append(p.ins, args[0].(api.BootstrapInput))
	return fakeRun{}, nil
}

func (p *previewStarts) SignalWorkflow(context.Context, string, string, string, interface{}) error {
	panic("no run is up to signal")
}

func (p *previewStarts) DescribeWorkflow(_ context.Context, id, _ string) (*client.WorkflowExecutionDescription, error) {
	return nil, serviceerror.NewNotFound(id)
}

func deliver(t *testing.T, h http.Handler, kind string, payload any) (int, Response) {
	t.Helper()
	body, err := json.Marshal(payload)
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, GitHubPath, bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", kind)
	req.Header.Set("X-Hub-Signature-256", imagewatch.Sign(secret, body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var r Response
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &r), rec.Body.String())
	return rec.Code, r
}

func TestPullRequestWebhookShapes(t *testing.T) {
	p := &previewStarts{}
	h := &PullRequests{Previews: config.PullRequestPreviews{Base: "dev"}, Secret: secret, Client: p, Log: slog.New(slog.DiscardHandler)}

	code, r := deliver(t, h, "ping", map[string]any{"zen": "Keep it logically awesome."})
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "pong", r.Status)
	code, r = deliver(t, h, "push", map[string]any{"ref": "refs/heads/main"})
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, r.Message, `X-GitHub-Event "push": idp reads only pull_request events here`)
	code, r = deliver(t, h, "pull_request", map[string]any{"action": "opened"})
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, r.Message, "not a pull_request payload with a number")
	code, r = deliver(t, h, "pull_request", map[string]any{"action": "labeled", "number": 3})
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, `action "labeled" changes no preview`, r.Message)
	require.Empty(t, p.ins)

	// A fork's head is not a branch of the platform repository: the preview finds it at
	// refs/pull/<N>/head (Branch empty).
	code, r = deliver(t, h, "pull_request", map[string]any{"action": "opened", "number": 9,
		"pull_request": map[string]any{"head": map[string]any{"ref": "main", "repo": map[string]any{"full_name": "someone/platform"}},
			"base": map[string]any{"repo": map[string]any{"full_name": "acme/platform"}}},
		"sender": map[string]any{"login": "someone"}})
	require.Equal(t, http.StatusAccepted, code, r.Message)
	require.Equal(t, []api.BootstrapInput{{Env: "dev", PR: 9, Requester: "idp-github (pull request 9, opened by someone)"}}, p.ins)

	req := httptest.NewRequest(http.MethodPost, GitHubPath, bytes.NewReader([]byte(`{}`)))
	req.Header.Set("X-GitHub-Event", "pull_request")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Contains(t, rec.Body.String(), "no X-Hub-Signature-256: set the webhook's secret to the events secret")
}
