// Package notify tells people what idp did: it posts a run's events (an approval requested, a
// promotion done or rolled back, a bootstrap finished...) to the webhooks an env's notify
// targets in idp.yaml name, as Slack-compatible messages or as plain JSON.
//
// A target's URL is a secret. idp.yaml says only where it is (env:NAME, file:PATH); Send
// resolves it in the worker when it posts, so it is never in a workflow's input, history or
// logs, and errors name the target, never the URL.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/internal/config"
)

// Event types, as idp.yaml's notify.events and the JSON form's "event" name them.
const (
	ApprovalRequested = "approval_requested"
	ApprovalReminder  = "approval_reminder"
	Approved          = "approved"
	Rejected          = "rejected"
	Expired           = "expired"
	Promoted          = "promoted"
	RolledBack        = "rolled_back"
	PromotionFailed   = "promotion_failed"
	BootstrapDone     = "bootstrap_done"
	BootstrapFailed   = "bootstrap_failed"
	Frozen            = "frozen"
	Unfrozen          = "unfrozen"
	// Drift is a drift check that found the env's live state differing from the repository.
	Drift = "drift"
	// Destroyed and DestroyFailed end a destroy of an env (or a preview).
	Destroyed     = "destroyed"
	DestroyFailed = "destroy_failed"
)

// Event is one thing that happened in an env, as the JSON form posts it. Only Type and Env are
// required; Text is the one-line human summary both forms carry.
type Event struct {
	Type       string `json:"event"`
	Env        string `json:"env"`
	Kind       string `json:"kind,omitempty"`
	Service    string `json:"service,omitempty"`
	Tag        string `json:"tag,omitempty"`
	Digest     string `json:"digest,omitempty"`
	WorkflowID string `json:"workflowId,omitempty"`
	// Who made it happen: the approvers, the rejecter, who froze an env, the requester.
	Who string `json:"who,omitempty"`
	// Subject is what an approval binds to: the image digest or the plan's sha256.
	Subject string `json:"subject,omitempty"`
	// ApproveCommand is the exact command that approves the pending subject.
	ApproveCommand string    `json:"approveCommand,omitempty"`
	ExpiresAt      time.Time `json:"expiresAt,omitzero"`
	Text           string    `json:"text"`
	Time           time.Time `json:"time"`
}

// SendOutput says which targets took the event. A target that failed every attempt is in
// Failed only when the activity gives up on it without an error (an answer retrying cannot
// change, such as 404).
type SendOutput struct {
	Delivered []string `json:"delivered"`
	Failed    []string `json:"failed,omitempty"`
}

// Activities post events with the worker's idp.yaml and its environment.
type Activities struct {
	// Config is the worker's idp.yaml: the targets are read from it when an event is sent, not
	// from the run's snapshot, so events without a run (a freeze) reach the same targets and a
	// target repointed in idp.yaml applies to runs already waiting.
	Config *config.Config
	// HTTP posts the events; nil means a client with a 10 s timeout.
	HTTP *http.Client
	// Getenv reads env:NAME references; nil means os.Getenv.
	Getenv func(string) string
}

// ErrTarget is the failure type of a target that refuses the event for good (a 4xx other
// than 408 and 429): a removed webhook, a malformed reference.
const ErrTarget = "NotifyTargetRefused"

// Send posts ev to every target of ev.Env that wants ev.Type. On a retry it skips the targets
// an earlier attempt delivered to (they are in its heartbeat details), so people get each
// message once.
func (a *Activities) Send(ctx context.Context, ev Event) (SendOutput, error) {
	env, err := a.Config.Env(ev.Env)
	if err != nil {
		return SendOutput{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTarget, nil)
	}
	out := SendOutput{Delivered: []string{}}
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &out.Delivered)
	}
	var errs []error
	for i, t := range env.Notify {
		name := t.TargetName(i)
		if !t.Wants(ev.Type) || slices.Contains(out.Delivered, name) {
			continue
		}
		err := a.post(ctx, t, ev)
		var refused *refusedError
		switch {
		case errors.As(err, &refused):
			out.Failed = append(out.Failed, name)
			activity.GetLogger(ctx).Warn("notify target refused the event", "target", name, "event", ev.Type, "error", err.Error())
		case err != nil:
			errs = append(errs, fmt.Errorf("target %s: %w", name, err))
		default:
			out.Delivered = append(out.Delivered, name)
			if activity.IsActivity(ctx) {
				activity.RecordHeartbeat(ctx, out.Delivered)
			}
		}
	}
	return out, errors.Join(errs...)
}

// refusedError is a target's answer that retrying cannot change.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }

// post sends ev to one target; its errors never quote the URL.
func (a *Activities) post(ctx context.Context, t config.NotifyTarget, ev Event) error {
	u, err := a.resolve(t)
	if err != nil {
		return &refusedError{msg: err.Error()}
	}
	body, err := Body(t.Format, ev)
	if err != nil {
		return &refusedError{msg: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return &refusedError{msg: "the webhook URL does not parse (check what urlFrom points at)"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "idp-notify")
	hc := a.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // *url.Error quotes the URL, which is the secret
		}
		return fmt.Errorf("posting the event: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return fmt.Errorf("the webhook answered %s", resp.Status)
	default:
		return &refusedError{msg: "the webhook answered " + resp.Status}
	}
}

// resolve reads the target's URL from where urlFrom says it is.
func (a *Activities) resolve(t config.NotifyTarget) (string, error) {
	kind, ref, err := t.URLSource()
	if err != nil {
		return "", err
	}
	var u string
	switch kind {
	case "env":
		getenv := a.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		if u = strings.TrimSpace(getenv(ref)); u == "" {
			return "", fmt.Errorf("the worker's environment variable %s (urlFrom) is empty: set it to the webhook URL", ref)
		}
	case "file":
		b, err := os.ReadFile(ref)
		if err != nil {
			return "", fmt.Errorf("reading the webhook URL from %s (urlFrom): %w", ref, errors.Unwrap(err))
		}
		u = strings.TrimSpace(string(b))
	}
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return "", fmt.Errorf("what %s holds is not an http(s) URL", t.URLFrom)
	}
	return u, nil
}

// Body renders ev in format: "slack" (or "") or "json".
func Body(format string, ev Event) ([]byte, error) {
	switch format {
	case config.NotifyJSON:
		return json.Marshal(ev)
	case config.NotifySlack, "":
		return json.Marshal(slackMessage(ev))
	}
	return nil, fmt.Errorf("unknown notify format %q", format)
}
