package codec

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"go.temporal.io/sdk/converter"
)

// maxRequest bounds a request's body: a page of the Web UI's payloads, far below what would
// let a caller exhaust the server's memory.
const maxRequest = 16 << 20

// ServerOptions configure Handler.
type ServerOptions struct {
	// Origins are the browser origins allowed to call (the Web UI's, e.g.
	// http://localhost:8233). Requests from any other origin are refused; requests without
	// an Origin (Temporal's CLI, scripts) are not browser requests and are let through to Auth.
	Origins []string
	// Auth decides who may encode and decode. Nil lets everyone who reaches the server.
	Auth Authorizer
	// Log records who decoded what namespace; never a token or a payload. Nil: slog's default.
	Log *slog.Logger
}

// Authorizer decides whether a request may use the codec.
type Authorizer interface {
	// Authorize returns who made the request, or an error: ErrNoCredentials when the request
	// carries none (401), a *Refusal for credentials that do not let it in (its Status), any
	// other when it could not decide (502).
	Authorize(r *http.Request) (who string, err error)
}

// ErrNoCredentials is a request without an Authorization header.
var ErrNoCredentials = errors.New("no credentials: send Authorization: Bearer <token>")

// Refusal is a request whose credentials do not let it use the codec.
type Refusal struct {
	Status int // 401 for credentials that are not valid, 403 for someone not allowed
	Reason string
}

func (r *Refusal) Error() string { return r.Reason }

// Handler serves Temporal's remote codec protocol (POST …/encode and …/decode, Payloads as
// protobuf JSON) with c, behind a CORS policy for the Web UI and an authorization check.
func Handler(c *Codec, o ServerOptions) http.Handler {
	logger := o.Log
	if logger == nil {
		logger = slog.Default()
	}
	origins := map[string]bool{}
	for _, origin := range o.Origins {
		origins[strings.TrimSuffix(origin, "/")] = true
	}
	h := &handler{codec: converter.NewPayloadCodecHTTPHandler(c), origins: origins, auth: o.Auth, log: logger}
	return h
}

type handler struct {
	codec   http.Handler
	origins map[string]bool
	auth    Authorizer
	log     *slog.Logger
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" {
		if !h.origins[origin] {
			h.log.Warn("codec request refused: origin not allowed", "origin", origin, "remote", r.RemoteAddr)
			http.Error(w, "origin "+origin+" is not allowed: start the codec server with --cors-origin "+origin, http.StatusForbidden)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Add("Vary", "Origin")
	}
	if r.Method == http.MethodOptions {
		// A browser's preflight carries no credentials; the request that follows must. The Web UI
		// sends these headers (Authorization-Extras: the ID token, when it passes the access token).
		w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Authorization-Extras, Content-Type, X-Namespace")
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	op := operation(r.URL.Path)
	if op == "" {
		http.Error(w, "not found: POST …/encode or …/decode", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		http.Error(w, "method not allowed: POST …/"+op, http.StatusMethodNotAllowed)
		return
	}
	who, ok := h.authorize(w, r, op)
	if !ok {
		return
	}
	h.log.Info("codec request", "op", op, "who", who, "namespace", namespace(r), "remote", r.RemoteAddr)
	r.Body = http.MaxBytesReader(w, r.Body, maxRequest)
	h.codec.ServeHTTP(w, r)
}

// authorize answers 401 or 403 itself when the request may not use the codec.
func (h *handler) authorize(w http.ResponseWriter, r *http.Request, op string) (string, bool) {
	if h.auth == nil {
		return "anyone", true
	}
	who, err := h.auth.Authorize(r)
	if err == nil {
		return who, true
	}
	status := http.StatusBadGateway // the check itself failed (the identity provider is down)
	var refusal *Refusal
	switch {
	case errors.Is(err, ErrNoCredentials):
		status = http.StatusUnauthorized
	case errors.As(err, &refusal):
		status = refusal.Status
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="idp codec"`)
	}
	h.log.Warn("codec request refused", "op", op, "namespace", namespace(r), "remote", r.RemoteAddr, "reason", err.Error())
	http.Error(w, err.Error(), status)
	return "", false
}

// operation is "encode" or "decode" by the path's last element, as the protocol says (the
// endpoint may be mounted at any depth, e.g. /default/decode), or "".
func operation(path string) string {
	for _, op := range []string{"encode", "decode"} {
		if strings.HasSuffix(path, "/"+op) {
			return op
		}
	}
	return ""
}

// namespace is the X-Namespace the Web UI sends, else the path element before the operation.
func namespace(r *http.Request) string {
	if ns := r.Header.Get("X-Namespace"); ns != "" {
		return ns
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) >= 2 {
		return parts[len(parts)-2]
	}
	return ""
}
