package workflows

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"golang.org/x/crypto/ssh"

	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/signature"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestRequestsOnADevServer runs the real BootstrapEnvironment and the real platform activities
// on a dev server, whose clock sets the run's start time: a request signed by the named
// person's key is verified, one with another person's key fails the run at once, and an
// unsigned one is marked. The worker's idp.yaml defines no environment, so a run whose
// request passed fails next, at Describe, with a config error.
func TestRequestsOnADevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Temporal dev server; not part of -short")
	}
	c := devServer(t)
	alice, mallory := newSigner(t), newSigner(t)
	cfg := &config.Config{People: map[string]config.Person{"alice": {Keys: []string{string(ssh.MarshalAuthorizedKey(alice.PublicKey()))}}}}
	w := worker.New(c, api.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(BootstrapEnvironment, workflowOptions(api.BootstrapWorkflowName))
	w.RegisterActivity(&platform.Activities{Config: cfg})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	signed := func(env, who string, key ssh.Signer) api.BootstrapInput {
		in := api.BootstrapInput{Env: env, Requester: who}
		if key != nil {
			in.SignedAt = time.Now().UTC().Truncate(time.Second)
			sig, err := signature.Sign(in.Statement(api.BootstrapID(env)), key)
			require.NoError(t, err)
			in.Signature = sig
		}
		return in
	}
	for _, tc := range []struct {
		in       api.BootstrapInput
		failType string
		verified bool
		step     string // the step that records the request, or "" when it was refused
	}{
		{in: signed("qa", "alice", alice), failType: fail.Config, verified: true, step: "requested by alice, signed with " + signature.Fingerprint(alice.PublicKey())},
		{in: signed("uat", "alice", mallory), failType: api.ErrUnverifiedRequest},
		{in: signed("perf", "ci", nil), failType: fail.Config, step: "requested by ci, unsigned"},
	} {
		id := api.BootstrapID(tc.in.Env)
		run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: api.TaskQueue},
			api.BootstrapWorkflowName, tc.in)
		require.NoError(t, err)
		err = run.Get(context.Background(), nil)
		require.True(t, fail.Is(err, tc.failType), "%s: %v", id, err)
		v, err := c.QueryWorkflow(context.Background(), id, "", api.StatusQuery)
		require.NoError(t, err)
		var st api.Status
		require.NoError(t, v.Get(&st))
		require.Equal(t, tc.verified, st.RequesterVerified, id)
		if tc.step != "" {
			require.Contains(t, st.Steps, tc.step)
		} else {
			require.Contains(t, st.Error, "request refused: the signature is not by a key of alice")
			require.Empty(t, st.Steps, "nothing ran")
		}
	}
}

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	return s
}
