package config

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"
)

// ImageWatch makes pushed images start their promotions by themselves: an endpoint for ECR
// push events (Amazon EventBridge through an API destination) and, as a fallback for events
// that never arrive, a Temporal Schedule per service that looks at the tooling ECR.
type ImageWatch struct {
	Events WatchEvents `yaml:"events" json:"events"`
	Poll   WatchPoll   `yaml:"poll" json:"poll"`
}

// WatchEvents is the worker's endpoint for ECR push events.
type WatchEvents struct {
	// Addr is where the worker serves POST /events/ecr (host:port); empty turns it off.
	// The worker's --events-addr / $IDP_EVENTS_ADDR overrides it.
	Addr string `yaml:"addr" json:"addr,omitempty"`
	// Header carries the shared secret, as an EventBridge connection with API key
	// authorization sends it (default X-Idp-Events-Key).
	Header string `yaml:"header" json:"header,omitempty"`
	// SecretEnv names the worker's environment variable holding the shared secret (default
	// IDP_EVENTS_SECRET); SecretFile names a file holding it instead. The secret itself is
	// never written in idp.yaml, logs or workflow history.
	SecretEnv  string `yaml:"secretEnv" json:"secretEnv,omitempty"`
	SecretFile string `yaml:"secretFile" json:"secretFile,omitempty"`
}

// WatchPoll is the polling fallback: one Temporal Schedule per service.
type WatchPoll struct {
	// Enabled creates the schedules at worker start-up (default true).
	Enabled *bool `yaml:"enabled" json:"enabled,omitempty"`
	// Interval between looks at the tooling ECR (default 1m).
	Interval Duration `yaml:"interval" json:"interval,omitempty"`
	// Paused creates missing schedules paused (`starter image-watch enable` resumes them);
	// schedules that exist keep their state.
	Paused bool `yaml:"paused" json:"paused,omitempty"`
}

// Defaults of the image watch.
const (
	DefaultEventsHeader    = "X-Idp-Events-Key"
	DefaultEventsSecretEnv = "IDP_EVENTS_SECRET"
	DefaultPollInterval    = time.Minute
	// minEventsSecret is the shortest shared secret the endpoint accepts.
	minEventsSecret = 16
)

// PollEnabled reports whether the worker keeps the polling schedules.
func (p WatchPoll) PollEnabled() bool { return p.Enabled == nil || *p.Enabled }

var headerRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

func (w *ImageWatch) applyDefaults() {
	if w.Events.Header == "" {
		w.Events.Header = DefaultEventsHeader
	}
	if w.Events.SecretEnv == "" && w.Events.SecretFile == "" {
		w.Events.SecretEnv = DefaultEventsSecretEnv
	}
	if w.Poll.Interval == 0 {
		w.Poll.Interval = Duration(DefaultPollInterval)
	}
}

func (w ImageWatch) validate(bad func(string, string, ...any)) {
	if w.Events.Addr != "" {
		if _, _, err := net.SplitHostPort(w.Events.Addr); err != nil {
			bad("imageWatch.events.addr", "must be HOST:PORT or :PORT, got %q", w.Events.Addr)
		}
	}
	if !headerRE.MatchString(w.Events.Header) {
		bad("imageWatch.events.header", "must be an HTTP header name (letters, digits, '-'), got %q", w.Events.Header)
	}
	if w.Events.SecretEnv != "" && w.Events.SecretFile != "" {
		bad("imageWatch.events", "name the secret by secretEnv or secretFile, not both")
	}
	if w.Poll.Interval.Std() < 10*time.Second {
		bad("imageWatch.poll.interval", "must be at least 10s, got %s", w.Poll.Interval.Std())
	}
}

// EventsSecret reads the endpoint's shared secret from where idp.yaml names it. The error
// names the variable or file, never the secret.
func (e WatchEvents) EventsSecret() (string, error) {
	var secret, from string
	if e.SecretFile != "" {
		from = "the file " + e.SecretFile + " (imageWatch.events.secretFile)"
		b, err := os.ReadFile(expandHome(e.SecretFile))
		if err != nil {
			return "", fmt.Errorf("reading the events secret: %w (imageWatch.events.secretFile)", err)
		}
		secret = strings.TrimSpace(string(b))
	} else {
		from = "$" + e.SecretEnv + " (imageWatch.events.secretEnv)"
		secret = strings.TrimSpace(os.Getenv(e.SecretEnv))
	}
	if len(secret) < minEventsSecret {
		return "", fmt.Errorf("the events secret in %s must be at least %d characters (e.g. openssl rand -hex 32); the endpoint does not run without one",
			from, minEventsSecret)
	}
	return secret, nil
}
