package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestImageWatchDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal))
	require.NoError(t, err)
	w := c.ImageWatch
	require.Empty(t, w.Events.Addr, "the endpoint is off unless asked for")
	require.Equal(t, DefaultEventsHeader, w.Events.Header)
	require.Equal(t, DefaultEventsSecretEnv, w.Events.SecretEnv)
	require.True(t, w.Poll.PollEnabled())
	require.Equal(t, time.Minute, w.Poll.Interval.Std())
	require.False(t, w.Poll.Paused)
}

func TestImageWatchValidation(t *testing.T) {
	_, err := Parse([]byte(minimal + `
imageWatch:
  events: {addr: "8080", header: "X Key", secretEnv: A, secretFile: /b}
  poll: {interval: 1s}
`))
	require.Error(t, err)
	for _, want := range []string{
		`imageWatch.events.addr: must be HOST:PORT or :PORT, got "8080"`,
		`imageWatch.events.header: must be an HTTP header name`,
		`imageWatch.events: name the secret by secretEnv or secretFile, not both`,
		`imageWatch.poll.interval: must be at least 10s, got 1s`,
	} {
		require.ErrorContains(t, err, want)
	}
}

func TestEventsSecret(t *testing.T) {
	t.Setenv("IDP_TEST_EVENTS_SECRET", "")
	e := WatchEvents{SecretEnv: "IDP_TEST_EVENTS_SECRET"}
	_, err := e.EventsSecret()
	require.ErrorContains(t, err, "the events secret in $IDP_TEST_EVENTS_SECRET (imageWatch.events.secretEnv) must be at least 16 characters")
	t.Setenv("IDP_TEST_EVENTS_SECRET", " 0123456789abcdef0123\n")
	got, err := e.EventsSecret()
	require.NoError(t, err)
	require.Equal(t, "0123456789abcdef0123", got)

	path := filepath.Join(t.TempDir(), "secret")
	e = WatchEvents{SecretFile: path}
	_, err = e.EventsSecret()
	require.ErrorContains(t, err, "imageWatch.events.secretFile")
	require.NoError(t, os.WriteFile(path, []byte("short\n"), 0o600))
	_, err = e.EventsSecret()
	require.ErrorContains(t, err, "must be at least 16 characters")
	require.NotContains(t, err.Error(), "short", "the error never shows the secret")
}
