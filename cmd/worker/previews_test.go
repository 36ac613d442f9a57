package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/cmd/worker/events"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/imagewatch"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestPullRequestWebhooksMakeAndEndPreviews posts GitHub pull_request webhooks to the
// worker's events endpoint on a real dev server: opened starts the preview's run (the head
// branch, the configured TTL, the sender named); opened again is a 409; synchronize finds it
// up and changes nothing; closed signals its run to end; closed again finds none up; a
// synchronize with no preview up starts one. A bad signature is a 401 and starts nothing.
func TestPullRequestWebhooksMakeAndEndPreviews(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Temporal dev server; not part of -short")
	}
	c, err := client.Dial(client.Options{HostPort: idpDevServer(t)})
	require.NoError(t, err)
	defer c.Close()
	// A stand-in for BootstrapEnvironment: a preview run that lives until its destroy signal.
	w := worker.New(c, api.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, in api.BootstrapInput) (api.BootstrapInput, error) {
		var req api.DestroyRequest
		workflow.GetSignalChannel(ctx, api.DestroySignal).Receive(ctx, &req)
		in.Requester += " / ended by " + req.Who
		return in, nil
	}, workflow.RegisterOptions{Name: api.BootstrapWorkflowName})
	require.NoError(t, w.Start())
	defer w.Stop()

	const secret = "0123456789abcdef0123456789abcdef"
	h := &events.PullRequests{Previews: config.PullRequestPreviews{Base: "dev", TTL: config.Duration(24 * time.Hour)},
		Secret: secret, Client: c, Log: slog.New(slog.DiscardHandler)}
	srv := httptest.NewServer(h)
	defer srv.Close()
	post := func(action string, pr int, sign string) (int, events.Response) {
		body, err := json.Marshal(map[string]any{"action": action, "number": pr,
			"pull_request": map[string]any{"head": map[string]any{"ref": "feature/x", "repo": map[string]any{"full_name": "acme/platform"}},
				"base": map[string]any{"repo": map[string]any{"full_name": "acme/platform"}}},
			"sender": map[string]any{"login": "octocat"}})
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, srv.URL+events.GitHubPath, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-GitHub-Event", "pull_request")
		req.Header.Set("X-Hub-Signature-256", imagewatch.Sign(sign, body))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var r events.Response
		require.NoError(t, json.Unmarshal(b, &r), string(b))
		return resp.StatusCode, r
	}
	ctx := context.Background()

	code, r := post("opened", 7, "not-the-secret-at-all-0123456789")
	require.Equal(t, http.StatusUnauthorized, code, r.Message)
	_, err = c.DescribeWorkflow(ctx, api.PreviewID("dev", 7), "")
	require.Error(t, err, "nothing started")

	code, r = post("opened", 7, secret)
	require.Equal(t, http.StatusAccepted, code, r.Message)
	require.Equal(t, "bootstrap-dev-pr-7", r.WorkflowID)
	code, r = post("opened", 7, secret)
	require.Equal(t, http.StatusConflict, code, r.Message)
	code, r = post("synchronize", 7, secret)
	require.Equal(t, http.StatusOK, code, r.Message)
	require.Equal(t, "up", r.Status)

	code, r = post("closed", 7, secret)
	require.Equal(t, http.StatusAccepted, code, r.Message)
	var in api.BootstrapInput
	require.NoError(t, c.GetWorkflow(ctx, api.PreviewID("dev", 7), "").Get(ctx, &in))
	require.Equal(t, api.BootstrapInput{Env: "dev", PR: 7, Branch: "feature/x", TTL: 24 * time.Hour,
		Requester: "idp-github (pull request 7, opened by octocat) / ended by idp-github (pull request 7, closed by octocat)"}, in)
	code, r = post("closed", 7, secret)
	require.Equal(t, http.StatusOK, code, r.Message)
	require.Equal(t, "nothing", r.Status)

	// A push to a pull request whose preview is not up (expired, or opened before the webhook
	// was set) brings one up.
	code, r = post("synchronize", 8, secret)
	require.Equal(t, http.StatusAccepted, code, r.Message)
	require.Equal(t, "bootstrap-dev-pr-8", r.WorkflowID)
}
