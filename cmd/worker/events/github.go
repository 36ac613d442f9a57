package events

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/imagewatch"
	"github.com/alexpermiakov/idp/workflows/api"
)

// GitHubPath is where GitHub posts pull_request webhooks (previews.pullRequests in idp.yaml).
//
//	POST /events/github  202 started or asked to end · 200 nothing to do (ping, other actions,
//	                     a preview already up) · 409 already started · 400 malformed ·
//	                     401 not signed with the events secret · 503 Temporal unreachable
const GitHubPath = "/events/github"

// PreviewAPI is what the pull request handler needs of a Temporal client.
type PreviewAPI interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow interface{}, args ...interface{}) (client.WorkflowRun, error)
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg interface{}) error
	DescribeWorkflow(ctx context.Context, workflowID, runID string) (*client.WorkflowExecutionDescription, error)
}

// PullRequests turns GitHub pull_request webhooks into previews of Base: opened and reopened
// start one; synchronize starts one when none is up (an up preview's app-of-apps tracks the
// branch, so Argo CD takes the new head; its TTL is not extended); closed asks the preview's
// run to end, which starts its destroy. The webhook's secret is the events secret: GitHub
// signs the body with it in X-Hub-Signature-256.
type PullRequests struct {
	Previews config.PullRequestPreviews
	Secret   string
	Client   PreviewAPI
	Log      *slog.Logger
}

// pullRequestEvent is the part of GitHub's pull_request payload idp reads.
type pullRequestEvent struct {
	Action      string `json:"action"`
	Number      int    `json:"number"`
	PullRequest struct {
		Head struct {
			Ref  string `json:"ref"`
			Repo *struct {
				FullName string `json:"full_name"`
			} `json:"repo"`
		} `json:"head"`
		Base struct {
			Repo struct {
				FullName string `json:"full_name"`
			} `json:"repo"`
		} `json:"base"`
	} `json:"pull_request"`
	Sender struct {
		Login string `json:"login"`
	} `json:"sender"`
}

// branch is the head branch when it lives in the base repository; a fork's head ("") is
// found by the preview at refs/pull/<N>/head.
func (e pullRequestEvent) branch() string {
	h := e.PullRequest.Head
	if h.Repo == nil || h.Repo.FullName != e.PullRequest.Base.Repo.FullName {
		return ""
	}
	return h.Ref
}

func (h *PullRequests) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		answer(w, http.StatusMethodNotAllowed, Response{Status: "refused", Message: "POST a GitHub webhook to " + GitHubPath})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxGitHubBody))
	if err != nil {
		answer(w, http.StatusRequestEntityTooLarge, Response{Status: "refused", Message: fmt.Sprintf("the body is over %d bytes or unreadable: %v", maxGitHubBody, err)})
		return
	}
	if err := verifyGitHub(r.Header.Get("X-Hub-Signature-256"), h.Secret, body); err != nil {
		h.Log.Warn("GitHub webhook refused", "status", http.StatusUnauthorized, "reason", err.Error(), "remote", r.RemoteAddr)
		answer(w, http.StatusUnauthorized, Response{Status: "refused", Message: err.Error()})
		return
	}
	switch kind := r.Header.Get("X-GitHub-Event"); kind {
	case "ping":
		answer(w, http.StatusOK, Response{Status: "pong", Message: "idp takes pull_request events here for previews of " + h.Previews.Base})
		return
	case "pull_request":
	default:
		answer(w, http.StatusOK, Response{Status: "ignored", Message: fmt.Sprintf("X-GitHub-Event %q: idp reads only pull_request events here", kind)})
		return
	}
	var ev pullRequestEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.Number <= 0 {
		answer(w, http.StatusBadRequest, Response{Status: "refused", Message: fmt.Sprintf("not a pull_request payload with a number: %v", err)})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 8*time.Second) // GitHub waits 10 s
	defer cancel()
	code, resp := h.handle(ctx, ev)
	h.Log.Info("pull request event", "action", ev.Action, "pr", ev.Number, "status", code, "outcome", resp.Status)
	answer(w, code, resp)
}

// maxGitHubBody bounds a webhook; GitHub caps payloads at 25 MB, pull_request ones are small.
const maxGitHubBody = 5 << 20

func verifyGitHub(got, secret string, body []byte) error {
	if got == "" {
		return fmt.Errorf("%w: no X-Hub-Signature-256: set the webhook's secret to the events secret", imagewatch.ErrUnauthenticated)
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(imagewatch.Sign(secret, body))) != 1 {
		return fmt.Errorf("%w: X-Hub-Signature-256 is not the body's HMAC-SHA256 with the events secret", imagewatch.ErrUnauthenticated)
	}
	return nil
}

// handle acts on one pull request event.
func (h *PullRequests) handle(ctx context.Context, ev pullRequestEvent) (int, Response) {
	base := h.Previews.Base
	id := api.PreviewID(base, ev.Number)
	who := fmt.Sprintf("idp-github (pull request %d, %s by %s)", ev.Number, ev.Action, ev.Sender.Login)
	switch ev.Action {
	case "opened", "reopened":
		return h.start(ctx, ev, who)
	case "synchronize":
		runID, err := h.liveRun(ctx, id)
		if err != nil {
			return unreachable(err)
		}
		if runID == "" {
			return h.start(ctx, ev, who)
		}
		return http.StatusOK, Response{Status: "up", WorkflowID: id, RunID: runID,
			Message: fmt.Sprintf("%s is up and tracks the pull request's head: Argo CD takes the new commit; its TTL is unchanged", id)}
	case "closed":
		runID, err := h.liveRun(ctx, id)
		if err != nil {
			return unreachable(err)
		}
		if runID == "" {
			return http.StatusOK, Response{Status: "nothing", WorkflowID: id, Message: "no preview of pull request " + fmt.Sprint(ev.Number) + " is up"}
		}
		if err := h.Client.SignalWorkflow(ctx, id, runID, api.DestroySignal, api.DestroyRequest{Who: who}); err != nil {
			return unreachable(err)
		}
		return http.StatusAccepted, Response{Status: "ending", WorkflowID: id, RunID: runID,
			Message: fmt.Sprintf("asked %s to end: it starts %s", id, api.DestroyID(base, ev.Number))}
	}
	return http.StatusOK, Response{Status: "ignored", Message: fmt.Sprintf("action %q changes no preview", ev.Action)}
}

// start starts the preview's run, unsigned, as the webhook's sender's pull request.
func (h *PullRequests) start(ctx context.Context, ev pullRequestEvent, who string) (int, Response) {
	base := h.Previews.Base
	id, name := api.PreviewID(base, ev.Number), config.PreviewName(base, ev.Number)
	in := api.BootstrapInput{Env: base, PR: ev.Number, Branch: ev.branch(), TTL: h.Previews.TTL.Std(), Requester: who}
	run, err := h.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                api.TaskQueue,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(api.AttrKind.ValueSet(api.KindBootstrap), api.AttrEnvironment.ValueSet(name),
			api.AttrPreview.ValueSet(name), api.AttrStage.ValueSet(string(api.StagePreparing))),
		StaticSummary: fmt.Sprintf("preview %s of pull request %d (by %s)", name, ev.Number, who),
	}, api.BootstrapWorkflowName, in)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return http.StatusConflict, Response{Status: "already-started", WorkflowID: id, RunID: already.RunId,
			Message: id + " is already running: nothing new started"}
	}
	if err != nil {
		return unreachable(err)
	}
	return http.StatusAccepted, Response{Status: "started", WorkflowID: id, RunID: run.GetRunID(),
		Message: fmt.Sprintf("started %s: preview %s of pull request %d", id, name, ev.Number)}
}

// liveRun is the open run of the preview, or "" when none is open.
func (h *PullRequests) liveRun(ctx context.Context, id string) (string, error) {
	desc, err := h.Client.DescribeWorkflow(ctx, id, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if desc.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return "", nil
	}
	return desc.WorkflowExecution.RunID, nil
}

func unreachable(err error) (int, Response) {
	return http.StatusServiceUnavailable, Response{Status: "refused", Message: "Temporal did not answer (redeliver the webhook from GitHub): " + err.Error()}
}

func answer(w http.ResponseWriter, code int, r Response) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(r)
}
