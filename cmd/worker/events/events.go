// Package events serves the worker's endpoint for ECR push events, as Amazon EventBridge
// delivers them through an API destination, and starts the pushed tag's promotion; and, with
// previews.pullRequests in idp.yaml, GitHub's pull_request webhooks (github.go).
//
//	POST /events/ecr   202 started · 409 already started (nothing new) · 400 malformed ·
//	                   401 not authenticated · 422 nothing to promote · 503 Temporal unreachable
//
// A request must carry the shared secret in the configured header (an EventBridge connection
// with API key authorization) or the body's HMAC-SHA256 in X-Idp-Signature-256. EventBridge
// retries 5xx and 429 only, so every refusal is final and a redelivered event is a 409.
package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/internal/imagewatch"
	"github.com/alexpermiakov/idp/workflows/api"
)

// EnvAddr names the variable that turns the endpoint on; --events-addr overrides it, and
// both override imageWatch.events.addr in idp.yaml.
const EnvAddr = "IDP_EVENTS_ADDR"

// Path is where events are posted.
const Path = "/events/ecr"

// maxBody bounds an event; EventBridge events are at most 256 KiB.
const maxBody = 256 << 10

// Response is the JSON body of every answer.
type Response struct {
	// Status is "started", "already-started", "pinned" or "refused".
	Status     string `json:"status"`
	WorkflowID string `json:"workflowId,omitempty"`
	RunID      string `json:"runId,omitempty"`
	Message    string `json:"message"`
}

// Handler answers events for cfg, authenticated with secret, starting runs through c.
type Handler struct {
	Config *config.Config
	Secret string
	Client imagewatch.StartAPI
	Log    *slog.Logger
	// Pinned, when set, says whether the service is pinned in env (starter pin, or after a
	// rollback): the watch leaves a pinned env alone, so a rollback is not undone by the next
	// push.
	Pinned func(ctx context.Context, env, service string) (*controls.Pin, error)
	// PullRequests, when set, serves GitHub pull_request webhooks at GitHubPath (previews).
	PullRequests http.Handler
}

// ServeHTTP handles one delivery.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.answer(w, http.StatusMethodNotAllowed, Response{Status: "refused", Message: "POST an EventBridge event to " + Path})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		h.answer(w, http.StatusRequestEntityTooLarge, Response{Status: "refused", Message: fmt.Sprintf("the body is over %d bytes or unreadable: %v", maxBody, err)})
		return
	}
	if err := imagewatch.Authenticate(r.Header, h.Config.ImageWatch.Events.Header, h.Secret, body); err != nil {
		h.Log.Warn("event refused", "status", http.StatusUnauthorized, "reason", err.Error(), "remote", r.RemoteAddr)
		h.answer(w, http.StatusUnauthorized, Response{Status: "refused", Message: err.Error()})
		return
	}
	push, err := imagewatch.ParsePush(h.Config, body)
	var refused *imagewatch.RefusedError
	if errors.As(err, &refused) {
		h.Log.Warn("event refused", "status", refused.Status, "reason", refused.Msg)
		h.answer(w, refused.Status, Response{Status: "refused", Message: refused.Msg})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 4*time.Second) // EventBridge waits 5 s
	defer cancel()
	if h.Pinned != nil {
		pin, err := h.Pinned(ctx, push.Entry, push.Service)
		if err != nil {
			h.Log.Error("event not handled: reading the pins failed", "service", push.Service, "env", push.Entry, "error", err)
			h.answer(w, http.StatusServiceUnavailable, Response{Status: "refused", Message: "could not read the pins of " + push.Entry + " (EventBridge retries): " + err.Error()})
			return
		}
		if pin != nil {
			msg := fmt.Sprintf("%s is pinned in %s by %s: %s; nothing started (starter unpin --service %s --env %s, then push again or starter promote)",
				push.Service, push.Entry, pin.Who, pin.Reason, push.Service, push.Entry)
			h.Log.Info("event for a pinned env", "service", push.Service, "tag", push.Tag, "env", push.Entry)
			h.answer(w, http.StatusConflict, Response{Status: "pinned", Message: msg})
			return
		}
	}
	started, err := imagewatch.Start(ctx, h.Client, api.PromoteStart(push, imagewatch.RequesterEvent))
	if err != nil {
		h.Log.Error("event not handled: starting the promotion failed", "service", push.Service, "tag", push.Tag, "error", err)
		h.answer(w, http.StatusServiceUnavailable, Response{Status: "refused", Message: "could not start the promotion (EventBridge retries): " + err.Error()})
		return
	}
	if started.Already {
		h.Log.Info("event for a tag already handled", "service", push.Service, "tag", push.Tag, "promotion", started.WorkflowID)
		h.answer(w, http.StatusConflict, Response{Status: "already-started", WorkflowID: started.WorkflowID, RunID: started.RunID,
			Message: fmt.Sprintf("%s was already started (by an earlier delivery, the poll or a person): nothing new started", started.WorkflowID)})
		return
	}
	h.Log.Info("event started a promotion", "service", push.Service, "tag", push.Tag, "env", push.Entry, "promotion", started.WorkflowID)
	h.answer(w, http.StatusAccepted, Response{Status: "started", WorkflowID: started.WorkflowID, RunID: started.RunID,
		Message: fmt.Sprintf("started %s: %s %s enters %s", started.WorkflowID, push.Service, push.Tag, push.Entry)})
}

func (h *Handler) answer(w http.ResponseWriter, code int, r Response) { answer(w, code, r) }

// Server is the running endpoint.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// Listen serves h at addr.
func Listen(addr string, h *Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("events endpoint on %s (--events-addr, $%s or imageWatch.events.addr): %w", addr, EnvAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, h)
	if h.PullRequests != nil {
		mux.Handle(GitHubPath, h.PullRequests)
	}
	s := &Server{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server; a nil Server (endpoint off) does nothing.
func (s *Server) Close() {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}
