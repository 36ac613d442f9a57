package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/crypto/ssh"

	"github.com/alexpermiakov/idp/activities/notify"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/internal/signature"
)

// controlsEnv runs staging's Controls workflow in the test environment: ControlRules lets
// alice and bob (bob with key) act, signatures required when signed is true; answers records
// what runs at the door were told, by owner.
type controlsEnv struct {
	t       *testing.T
	env     *testsuite.TestWorkflowEnvironment
	answers map[string][]controls.DoorAnswer
	// told are the events sent to the env's notify targets, in order.
	told  []notify.Event
	bob   ssh.Signer
	rules controls.Rules
}

func newControlsEnv(t *testing.T, signed bool) *controlsEnv { return newSlowControlsEnv(t, signed, 0) }

// newSlowControlsEnv is newControlsEnv where each answer at the door takes answerTakes to go
// out, on the workflow's clock.
func newSlowControlsEnv(t *testing.T, signed bool, answerTakes time.Duration) *controlsEnv {
	var ts testsuite.WorkflowTestSuite
	c := &controlsEnv{t: t, env: ts.NewTestWorkflowEnvironment(), answers: map[string][]controls.DoorAnswer{}, bob: newSigner(t)}
	c.env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: 30 * time.Second})
	c.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: controls.WorkflowID("staging")})
	c.env.RegisterWorkflowWithOptions(Controls, workflowOptions(controls.WorkflowName))
	c.env.RegisterActivity(pa)
	na := &notify.Activities{}
	c.env.RegisterActivity(na)
	c.env.OnActivity(na.Send, mock.Anything, mock.Anything).Return(func(_ context.Context, ev notify.Event) (notify.SendOutput, error) {
		c.told = append(c.told, ev)
		return notify.SendOutput{}, nil
	}).Maybe()
	c.rules = controls.Rules{Env: "staging", Known: true, RequireSignatures: signed, People: []controls.Person{
		{Name: "alice", Keys: []string{}}, {Name: "bob", Keys: []string{string(ssh.MarshalAuthorizedKey(c.bob.PublicKey()))}}}}
	c.env.OnActivity(pa.ControlRules, mock.Anything, mock.Anything).Return(func(context.Context, platform.ControlRulesInput) (controls.Rules, error) {
		return c.rules, nil
	}).Maybe()
	c.env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", controls.AnswerSignal, mock.Anything).Return(
		func(_, id, _, _ string, arg any) error {
			c.answers[id] = append(c.answers[id], arg.(controls.DoorAnswer))
			return nil
		}).After(answerTakes).Maybe()
	return c
}

// at runs f d after the start.
func (c *controlsEnv) at(d time.Duration, f func()) { c.env.RegisterDelayedCallback(f, d) }

// send sends an update and returns where its outcome lands.
func (c *controlsEnv) send(op string, req controls.Request) *updateOutcome {
	o := &updateOutcome{}
	c.env.UpdateWorkflow(op, "", &testsuite.TestUpdateCallback{
		OnAccept: func() { o.accepted = true },
		OnReject: func(err error) { o.refused = err },
		OnComplete: func(res any, err error) {
			o.err = err
			if r, ok := res.(controls.Result); ok {
				o.result = r
			}
		},
	}, req)
	return o
}

type updateOutcome struct {
	accepted bool
	refused  error
	err      error
	result   controls.Result
}

func (c *controlsEnv) state() controls.State {
	v, err := c.env.QueryWorkflow(controls.Query)
	require.NoError(c.t, err)
	var st controls.State
	require.NoError(c.t, v.Get(&st))
	return st
}

// run starts the workflow and cancels it after end: it never ends by itself.
func (c *controlsEnv) run(end time.Duration, in controls.State) {
	c.at(end, c.env.CancelWorkflow)
	c.env.ExecuteWorkflow(controls.WorkflowName, in)
}

func TestAFreezeHoldsTheDoorUntilUnfrozen(t *testing.T) {
	c := newControlsEnv(t, false)
	var freeze, unfreeze *updateOutcome
	c.at(time.Minute, func() {
		freeze = c.send(controls.OpFreeze, controls.Request{Env: "staging", Who: "Alice", Reason: "release party"})
	})
	c.at(2*time.Minute, func() {
		st := c.state()
		require.Len(t, st.Freezes, 1)
		require.Equal(t, "alice", st.Freezes[0].Who)
		c.env.SignalWorkflow(controls.DoorSignal, controls.DoorRequest{Owner: "promote-a", Service: "time-service"})
	})
	c.at(3*time.Minute, func() {
		require.Equal(t, []controls.DoorAnswer{{Env: "staging", Freezes: c.state().Freezes}}, c.answers["promote-a"], "told it is frozen, and why")
		require.Equal(t, []controls.DoorRequest{{Owner: "promote-a", Service: "time-service"}}, c.state().Waiting)
		unfreeze = c.send(controls.OpUnfreeze, controls.Request{Env: "staging", Who: "alice"})
	})
	c.at(4*time.Minute, func() {
		require.Len(t, c.answers["promote-a"], 2)
		require.True(t, c.answers["promote-a"][1].Open, "told the door opened when the freeze lifted")
		require.Empty(t, c.state().Waiting)
		c.env.SignalWorkflow(controls.DoorSignal, controls.DoorRequest{Owner: "promote-b"})
	})
	c.run(5*time.Minute, controls.State{Env: "staging"})
	require.True(t, freeze.accepted)
	require.NoError(t, freeze.err)
	require.Equal(t, "frozen by alice until unfrozen: release party", freeze.result.Message)
	require.NoError(t, unfreeze.err)
	require.Contains(t, unfreeze.result.Message, "staging unfrozen by alice")
	require.Equal(t, []controls.DoorAnswer{{Env: "staging", Open: true}}, c.answers["promote-b"])
	require.Len(t, c.told, 2, "people heard of the freeze and of its end")
	require.Equal(t, []string{notify.Frozen, notify.Unfrozen}, []string{c.told[0].Type, c.told[1].Type})
	require.Equal(t, "staging is frozen: frozen by alice until unfrozen: release party", c.told[0].Text)
	require.Equal(t, "alice", c.told[1].Who)
}

func TestAFreezeExpiresAtItsUntil(t *testing.T) {
	c := newControlsEnv(t, false)
	start := c.env.Now()
	until := start.Add(time.Hour).UTC()
	c.at(time.Minute, func() {
		c.send(controls.OpFreeze, controls.Request{Env: "staging", Who: "bob", Reason: "quarter close", Until: &until})
	})
	c.at(2*time.Minute, func() {
		c.env.SignalWorkflow(controls.DoorSignal, controls.DoorRequest{Owner: "bootstrap-staging"})
	})
	c.at(59*time.Minute, func() {
		require.Len(t, c.answers["bootstrap-staging"], 1)
		require.False(t, c.answers["bootstrap-staging"][0].Open)
	})
	c.at(61*time.Minute, func() {
		got := c.answers["bootstrap-staging"]
		require.Len(t, got, 2, "told again when the freeze expired")
		require.True(t, got[1].Open)
		require.Empty(t, c.state().Freezes)
	})
	c.run(62*time.Minute, controls.State{Env: "staging"})
	require.Len(t, c.told, 2)
	require.Equal(t, notify.Unfrozen, c.told[1].Type)
	require.Contains(t, c.told[1].Text, "the freeze ran out")
}

func TestControlsRefuseBadRequests(t *testing.T) {
	c := newControlsEnv(t, true)
	past := c.env.Now().Add(-time.Hour)
	got := map[string]*updateOutcome{}
	c.at(time.Minute, func() {
		got["no reason"] = c.send(controls.OpFreeze, controls.Request{Env: "staging", Who: "bob"})
		got["past"] = c.send(controls.OpFreeze, controls.Request{Env: "staging", Who: "bob", Reason: "x", Until: &past})
		got["other env"] = c.send(controls.OpFreeze, controls.Request{Env: "prod", Who: "bob", Reason: "x"})
		got["not frozen"] = c.send(controls.OpUnfreeze, controls.Request{Env: "staging", Who: "bob"})
		got["not pinned"] = c.send(controls.OpUnpin, controls.Request{Env: "staging", Who: "bob", Service: "time-service"})
		got["system"] = c.send(controls.OpFreeze, controls.Request{Env: "staging", Who: controls.System, Reason: "x"})
		got["unlisted"] = c.send(controls.OpFreeze, controls.Request{Env: "staging", Who: "mallory", Reason: "x"})
		got["unsigned"] = c.send(controls.OpFreeze, controls.Request{Env: "staging", Who: "bob", Reason: "x"})
		got["alice's name, bob's key"] = c.send(controls.OpFreeze, c.signed(controls.OpFreeze, controls.Request{Env: "staging", Who: "alice", Reason: "x"}))
		got["signed"] = c.send(controls.OpPin, c.signed(controls.OpPin, controls.Request{Env: "staging", Who: "bob", Service: "time-service", Tag: "v1.2.3", Reason: "hotfix soon"}))
	})
	c.run(2*time.Minute, controls.State{Env: "staging"})
	for name, want := range map[string]string{
		"no reason":  "a freeze needs a reason (--reason TEXT)",
		"past":       "is not in the future",
		"other env":  "this is staging's controls workflow, not prod's",
		"not frozen": "staging is not frozen",
		"not pinned": "time-service is not pinned in staging",
		"system":     "is idp's own name",
	} {
		require.False(t, got[name].accepted, name)
		require.ErrorContains(t, got[name].refused, want, name)
	}
	for name, want := range map[string]string{
		"unlisted":                "mallory may not freeze staging: the people idp.yaml lists for it are alice, bob",
		"unsigned":                "staging requires signed requests",
		"alice's name, bob's key": "alice has no SSH key in idp.yaml",
	} {
		require.True(t, got[name].accepted, name)
		require.ErrorContains(t, got[name].err, want, name)
	}
	require.NoError(t, got["signed"].err)
	st := got["signed"].result.State
	require.Len(t, st.Pins, 1)
	require.Equal(t, signature.Fingerprint(c.bob.PublicKey()), st.Pins[0].Key)
	require.Empty(t, st.Freezes, "no refused freeze was recorded")
}

// signed signs req as bob, now.
func (c *controlsEnv) signed(op string, req controls.Request) controls.Request {
	req.SignedAt = c.env.Now().UTC().Truncate(time.Second)
	sig, err := signature.Sign(req.Statement(op), c.bob)
	require.NoError(c.t, err)
	req.Signature = sig
	return req
}

// TestRequestsArrivingWhileItContinuesAreAnswered: a run asks at the door while the Controls
// workflow, about to continue as new, answers another: it is answered before the workflow
// continues, not dropped with the old run (3 of 100 promotions entering dev at once in the
// throughput bench waited at the door for good).
func TestRequestsArrivingWhileItContinuesAreAnswered(t *testing.T) {
	c := newSlowControlsEnv(t, false, 10*time.Second)
	door := func(owner string) func() {
		return func() {
			c.env.SignalWorkflow(controls.DoorSignal, controls.DoorRequest{Owner: owner, Service: "time-service"})
		}
	}
	// first is answered in the loop (1m to 1m10s); second arrives meanwhile and is answered
	// on the way to continuing as new (1m10s to 1m20s); third arrives during that answer.
	c.at(time.Minute, door("first"))
	c.at(time.Minute+2*time.Second, func() { c.env.SetCurrentHistoryLength(100) })
	c.at(time.Minute+5*time.Second, door("second"))
	c.at(time.Minute+15*time.Second, door("third"))
	c.env.ExecuteWorkflow(controls.WorkflowName, controls.State{Env: "staging", ContinueAfter: 5})
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, c.env.GetWorkflowError(), &can, "it continued as new")
	for _, owner := range []string{"first", "second", "third"} {
		require.Len(t, c.answers[owner], 1, "%s answered once before the run continued", owner)
		require.True(t, c.answers[owner][0].Open, owner)
	}
}
