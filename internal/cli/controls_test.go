package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"golang.org/x/crypto/ssh"

	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/internal/signature"
)

// controlsState answers a Controls workflow's query with f.pins.
func (f *fakeStarts) controlsState(id string) controlsValue {
	env := strings.TrimPrefix(id, controls.IDPrefix)
	return controlsValue{controls.State{Env: env, Freezes: []controls.Freeze{}, Pins: append([]controls.Pin{}, f.pins[env]...)}}
}

func (f *fakeStarts) NewWithStartWorkflowOperation(client.StartWorkflowOptions, interface{}, ...interface{}) client.WithStartWorkflowOperation {
	return nil
}

func (f *fakeStarts) UpdateWithStartWorkflow(_ context.Context, o client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	req := o.UpdateOptions.Args[0].(controls.Request)
	f.updates = append(f.updates, req)
	return controlsHandle{controls.Result{Message: o.UpdateOptions.UpdateName + " done"}}, nil
}

type controlsValue struct{ st controls.State }

func (v controlsValue) HasValue() bool { return true }
func (v controlsValue) Get(p interface{}) error {
	*(p.(*controls.State)) = v.st
	return nil
}

type controlsHandle struct {
	res controls.Result
}

func (controlsHandle) WorkflowID() string { return "" }
func (controlsHandle) RunID() string      { return "" }
func (controlsHandle) UpdateID() string   { return "" }
func (h controlsHandle) Get(_ context.Context, p interface{}) error {
	*(p.(*controls.Result)) = h.res
	return nil
}

func TestParseUntil(t *testing.T) {
	now := time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2h":                        now.Add(2 * time.Hour),
		"18:00":                     time.Date(2026, 11, 30, 18, 0, 0, 0, time.UTC),
		"09:30":                     time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC), // passed today: tomorrow's
		"2026-12-01T08:00":          time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC),
		"2026-11-30T20:00:00+02:00": time.Date(2026, 11, 30, 18, 0, 0, 0, time.UTC),
	} {
		got, err := parseUntil(in, now)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for in, msg := range map[string]string{
		"tomorrow":             `--until "tomorrow" is not a time: use RFC 3339 (2026-11-30T18:00:00Z), a UTC clock time (18:00) or a duration (2h)`,
		"-1h":                  `--until "-1h" is not in the future`,
		"2026-11-30T13:00:00Z": "is not in the future (now 2026-11-30T14:00:00Z)",
	} {
		_, err := parseUntil(in, now)
		require.ErrorContains(t, err, msg, in)
	}
}

// TestControlVerbsRefuseBadInput: every problem is named, with exit 2, before Temporal.
func TestControlVerbsRefuseBadInput(t *testing.T) {
	cfg := filepath.Join("..", "..", "idp.yaml")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"freeze", "--env", "prod"}, []string{"--reason is required"}},
		{[]string{"freeze", "--reason", "x"}, []string{"name the environment: --env ENV, or --all"}},
		{[]string{"freeze", "--env", "prod", "--all", "--reason", "x"}, []string{"--env and --all contradict each other"}},
		{[]string{"freeze", "--env", "prod", "--reason", "x", "--until", "soon"}, []string{`--until "soon" is not a time`}},
		{[]string{"freeze", "--env", "prod", "--until", "-2h"}, []string{"--reason is required", "is not in the future"}},
		{[]string{"freeze", "--env", "qa", "--reason", "x", "--as", "alice"}, []string{`unknown environment "qa"`}},
		{[]string{"freeze", "--list", "-o", "yaml"}, []string{"-o must be json or text"}},
		{[]string{"unfreeze"}, []string{"name the environment"}},
		{[]string{"pin", "--env", "prod"}, []string{"--service is required", "--reason is required"}},
		{[]string{"pin", "--service", "time-service", "--env", "prod", "--tag", "a/b", "--reason", "x"}, []string{`--tag "a/b" is not a valid image tag`}},
		{[]string{"unpin", "--service", "time-service"}, []string{"--env is required"}},
		{[]string{"unpin", "--service", "time-service", "--env", "prod", "--reason", "x"}, []string{"unknown flag: --reason"}},
		{[]string{"freeze", "--env", "prod", "--reason", "x", "--as", "mallory"}, []string{"mallory may not freeze prod: the people idp.yaml lists for it are alice, bob, carol"}},
	} {
		err := Check(context.Background(), append(tc.args, "--config", cfg))
		require.Error(t, err, tc.args)
		require.Equal(t, ExitBadInput, Code(err), "%v: %v", tc.args, err)
		for _, w := range tc.want {
			require.ErrorContains(t, err, w, tc.args)
		}
	}
	require.NoError(t, Check(context.Background(), []string{"freeze", "--all", "--reason", "incident", "--until", "2h", "--as", "alice", "--no-sign", "--config", cfg}))
	require.NoError(t, Check(context.Background(), []string{"freezes", "--config", cfg}))
}

// TestPromoteIntoAPinnedEnv: refused with the pin's reason (exit 2, nothing started); with
// --unpin the pin is lifted, signed by the requester, and the run starts.
func TestPromoteIntoAPinnedEnv(t *testing.T) {
	dir := t.TempDir()
	alice := writeKey(t, dir, "alice")
	cfg := configWithKey(t, alice)
	t.Setenv("IDP_SIGNING_KEY", "")
	t.Setenv("IDP_KEYS_DIR", dir)
	t.Setenv("SSH_AUTH_SOCK", "")
	pin := controls.Pin{Service: "time-service", Image: "idp/localtime:sha-1a2b3c4@sha256:abc", Who: controls.System,
		Reason: "promote-time-service-sha-9f8e7d6 rolled back time-service sha-9f8e7d6", Since: signedAt}
	f := &fakeStarts{pins: map[string][]controls.Pin{"dev": {pin}}}

	code, _, stderr := start(t, f, cfg, "promote", "--service", "time-service", "--tag", "sha-0123456", "--as", "alice")
	require.Equal(t, ExitBadInput, code, stderr)
	require.Contains(t, stderr, "time-service is pinned to idp/localtime:sha-1a2b3c4@sha256:abc by idp (rollback)")
	require.Contains(t, stderr, "rolled back time-service sha-9f8e7d6 in dev: not promoting sha-0123456 there")
	require.Contains(t, stderr, "starter unpin --service time-service --env dev")
	require.Empty(t, f.inputs, "nothing started")

	code, out, stderr := start(t, f, cfg, "promote", "--service", "time-service", "--tag", "sha-0123456", "--as", "alice", "--unpin")
	require.Equal(t, ExitDone, code, stderr)
	require.Contains(t, out, "unpin done")
	require.Len(t, f.inputs, 1, "the run started")
	require.Len(t, f.updates, 1)
	u := f.updates[0]
	require.Equal(t, []string{"dev", "time-service", "alice", "starter promote --unpin sha-0123456"}, []string{u.Env, u.Service, u.Who, u.Reason})
	_, err := signature.Verify(u.Statement(controls.OpUnpin), u.Signature, []ssh.PublicKey{alice})
	require.NoError(t, err, "signed with alice's key")

	// A worker too busy to answer the pin check in time: the run starts, and says why its
	// door still checks; --unpin, which must read the pins, fails instead.
	f = &fakeStarts{pins: map[string][]controls.Pin{"dev": {pin}}, busy: true}
	code, _, stderr = start(t, f, cfg, "promote", "--service", "time-service", "--tag", "sha-0123456", "--as", "alice")
	require.Equal(t, ExitDone, code, stderr)
	require.Contains(t, stderr, "controls-dev did not answer in time, so its pins were not checked here: the run's door refuses time-service if it is pinned there")
	require.Len(t, f.inputs, 1, "the run started")
	code, _, stderr = start(t, f, cfg, "promote", "--service", "time-service", "--tag", "sha-0123456", "--as", "alice", "--unpin")
	require.NotEqual(t, ExitDone, code, stderr)
	require.Contains(t, stderr, "asking controls-dev for its freezes and pins")
	require.Len(t, f.inputs, 1, "nothing more started")
}
