package stack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/imagewatch"
)

// eventsPath is where the worker serves ECR push events (cmd/worker/events.Path).
const eventsPath = "/events/ecr"

// EventsSecretFile is the file, in the state directory, holding the shared secret the worker's
// event endpoint checks and `sandbox image push` sends, as an EventBridge connection would.
const EventsSecretFile = "events-secret"

// prepareEvents picks the event endpoint's address and writes its secret, once per state
// directory, readable by its owner only.
func (s *Stack) prepareEvents() error {
	port, err := FreePort()
	if err != nil {
		return err
	}
	s.EventsAddr = fmt.Sprintf("127.0.0.1:%d", port)
	path := filepath.Join(s.opts.Dir, EventsSecretFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o600)
}

// imageWatchYAML is the sandbox's imageWatch section: the event endpoint on, the poll paused.
func (s *Stack) imageWatchYAML() string {
	return fmt.Sprintf(`imageWatch:
  # bin/sandbox image push delivers ECR push events here, as EventBridge would.
  events: {addr: %q, secretFile: %s}
  # Created paused: the demo and the tests push images they promote by hand, which a poll
  # would race. starter image-watch enable resumes it.
  poll: {interval: 1m, paused: true}
`, s.EventsAddr, filepath.Join(s.opts.Dir, EventsSecretFile))
}

// deliverEvent posts the ECR push event for repo:tag@digest to the worker's endpoint as
// EventBridge's API destination does: the EventBridge envelope, the secret in the
// connection's header. It returns the endpoint's answer; an endpoint that cannot be reached,
// refuses the secret or fails is an error.
func deliverEvent(ctx context.Context, cfg *config.Config, repo, tag, digest string) (string, error) {
	ev := cfg.ImageWatch.Events
	if ev.Addr == "" {
		return "the worker's event endpoint is off (imageWatch.events.addr)", nil
	}
	secret, err := ev.EventsSecret()
	if err != nil {
		return "", err
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	e := imagewatch.NewPushEvent(cfg.Tooling.AWS.AccountID, cfg.Tooling.AWS.Region, repo, tag, digest)
	body, err := json.Marshal(map[string]any{"version": "0", "id": hex.EncodeToString(id), "detail-type": e.DetailType,
		"source": e.Source, "account": e.Account, "time": time.Now().UTC().Format(time.RFC3339), "region": e.Region,
		"resources": []string{}, "detail": e.Detail})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+ev.Addr+eventsPath, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(ev.Header, secret)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", fmt.Errorf("delivering the push event to %s: %w (is the worker running? pass --no-event to push without it)", ev.Addr, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var answer struct {
		Status, Message string
	}
	_ = json.Unmarshal(b, &answer)
	line := fmt.Sprintf("event: %d %s: %s", resp.StatusCode, answer.Status, answer.Message)
	switch {
	case resp.StatusCode < 300, resp.StatusCode == http.StatusConflict, resp.StatusCode == http.StatusUnprocessableEntity:
		return line, nil
	}
	return "", errors.New(line)
}
