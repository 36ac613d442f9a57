package workflows

import (
	"context"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/controls"
)

// openDoors answers every run at an env's door: open, nothing pinned.
func openDoors(env *testsuite.TestWorkflowEnvironment) {
	env.OnActivity(sa.SignalWithStart, mock.Anything, mock.MatchedBy(func(in platform.SignalWithStartInput) bool {
		return in.WorkflowType == controls.WorkflowName
	})).Return(func(_ context.Context, in platform.SignalWithStartInput) error {
		answer := controls.DoorAnswer{Env: startEnv(in), Open: true}
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

// answerDoor answers the promotion at the door as s.door says (open by default).
func (s *promoteSuite) answerDoor(in platform.SignalWithStartInput) {
	env := startEnv(in)
	answer := controls.DoorAnswer{Env: env, Open: true}
	if s.door != nil {
		answer = s.door(env)
	}
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(controls.AnswerSignal, answer) }, time.Millisecond)
}
