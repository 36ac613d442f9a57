package workflows

import (
	"context"
	"strings"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/workflows/api"
)

// openDoors answers every run at an env's door as door says, or, while door returns nil,
// open with nothing pinned.
func openDoors(env *testsuite.TestWorkflowEnvironment, door func(env string) *controls.DoorAnswer) {
	env.OnActivity(sa.SignalWithStart, mock.Anything, mock.MatchedBy(func(in platform.SignalWithStartInput) bool {
		return in.WorkflowType == controls.WorkflowName
	})).Return(func(_ context.Context, in platform.SignalWithStartInput) error {
		answer := controls.DoorAnswer{Env: startEnv(in), Open: true}
		if a := door(answer.Env); a != nil {
			answer = *a
		}
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(controls.AnswerSignal, answer) }, 0)
		return nil
	}).Maybe()
}

// startEnv is the env of a Controls workflow's start argument, as the activity receives it.
func startEnv(in platform.SignalWithStartInput) string {
	if st, ok := in.StartArg.(controls.State); ok {
		return st.Env
	}
	return in.StartArg.(map[string]any)["env"].(string)
}

// lockKey is the key of a lock workflow's start argument, as the activity receives it: as
// is from a local activity, decoded from JSON from a regular one.
func lockKey(in platform.SignalWithStartInput) string {
	if li, ok := in.StartArg.(LockInput); ok {
		return li.Key
	}
	return in.StartArg.(map[string]any)["key"].(string)
}

// answerDoor answers the promotion at the door as s.door says (open by default).
func (s *promoteSuite) answerDoor(in platform.SignalWithStartInput) {
	env := startEnv(in)
	answer := controls.DoorAnswer{Env: env, Open: true}
	if s.door != nil {
		answer = s.door(env)
	}
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(controls.AnswerSignal, answer) }, time.Millisecond)
}

// TestAFrozenEnvWaitsAndGoesOnWhenItLifts: the run reaches staging while it is frozen, waits
// there saying who froze it, until when and why, and deploys once the freeze lifts.
func (s *promoteSuite) TestAFrozenEnvWaitsAndGoesOnWhenItLifts() {
	s.path(staging())
	s.direct("staging", "c-stg")
	until := s.env.Now().Add(3 * time.Hour).UTC().Truncate(time.Second)
	freeze := controls.Freeze{Who: "alice", Reason: "release party", Until: &until}
	s.door = func(env string) controls.DoorAnswer {
		return controls.DoorAnswer{Env: env, Freezes: []controls.Freeze{freeze}}
	}
	s.env.RegisterDelayedCallback(func() {
		st := s.status()
		s.Equal(api.EnvFrozen, st.Environments[0].State)
		s.Equal("staging is frozen by alice until "+until.Format(time.RFC3339)+": release party", st.Frozen)
		s.Contains(st.Steps[len(st.Steps)-1], "waiting until it lifts")
		s.env.SignalWorkflow(controls.AnswerSignal, controls.DoorAnswer{Env: "prod", Open: true}) // another env's: ignored
	}, time.Hour)
	s.env.RegisterDelayedCallback(func() {
		s.Equal(api.EnvFrozen, s.status().Environments[0].State, "still waiting")
		s.env.SignalWorkflow(controls.AnswerSignal, controls.DoorAnswer{Env: "staging", Open: true})
	}, 2*time.Hour)
	s.start("")
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Equal(api.EnvDone, st.Environments[0].State)
	s.Empty(st.Frozen)
	s.Contains(st.Steps, "staging is no longer frozen: going on")
}

// TestAPinnedServiceIsRefusedAtTheDoor: nothing is written into an env where the service is
// pinned; the failure says why and how to lift it.
func (s *promoteSuite) TestAPinnedServiceIsRefusedAtTheDoor() {
	s.path(staging())
	s.door = func(env string) controls.DoorAnswer {
		return controls.DoorAnswer{Env: env, Open: true, Pin: &controls.Pin{Service: "time-service", Image: oldImg, Who: controls.System,
			Reason: "promote-time-service-v1.2.2 rolled back time-service v1.2.2", Since: s.env.Now()}}
	}
	s.start("")
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, api.ErrPinned), "%v", err)
	s.ErrorContains(err, "time-service is pinned to "+oldImg+" by idp (rollback)")
	s.ErrorContains(err, "starter unpin --service time-service --env staging")
	s.Equal(api.EnvPinned, s.status().Environments[0].State)
}

// TestAFrozenEnvIsNotBootstrapped: a bootstrap of a frozen env waits at its door before
// anything in the account changes, and goes on once the freeze lifts.
func (s *bootstrapSuite) TestAFrozenEnvIsNotBootstrapped() {
	s.mockUpToPlan(config.Approval{MinApprovals: 1, Expiry: config.Duration(time.Hour)}, plan(planSHA))
	s.mockApplyAndGrant(planSHA)
	s.door = &controls.DoorAnswer{Env: "staging", Freezes: []controls.Freeze{{Who: "bob", Reason: "incident 4711"}}}
	s.env.RegisterDelayedCallback(func() {
		st := s.status()
		s.Equal("staging is frozen by bob until unfrozen: incident 4711", st.Frozen)
		s.Equal(api.EnvFrozen, st.Environments[0].State)
		s.NotContains(strings.Join(st.Steps, "\n"), "state backend", "nothing changed in the account")
		s.env.SignalWorkflow(controls.AnswerSignal, controls.DoorAnswer{Env: "staging", Open: true})
	}, time.Hour)
	s.start("alice")
	st := s.result()
	s.Equal(api.StageDone, st.Stage)
	s.Equal(api.EnvDone, st.Environments[0].State)
	s.Empty(st.Frozen)
}
