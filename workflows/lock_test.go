package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/alexpermiakov/idp/workflows/api"
)

func TestLockGrantsInOrderAndForwardsSupersede(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(Lock, workflowOptions(api.LockWorkflowName))
	var sent []string
	record := func(args mock.Arguments) { sent = append(sent, args.String(1)+" "+args.String(3)) }
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", mock.Anything, mock.Anything).Run(record).Return(nil)

	env.RegisterDelayedCallback(func() { env.SignalWorkflow(api.LockAcquireSignal, LockRequest{Owner: "promote-a"}) }, time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(api.LockAcquireSignal, LockRequest{Owner: "promote-a"}) }, 2*time.Second)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(api.LockAcquireSignal, LockRequest{Owner: "promote-b", Supersede: true})
	}, 3*time.Second)
	env.RegisterDelayedCallback(func() {
		require.Equal(t, []string{"promote-a lock-granted", "promote-a lock-granted", "promote-a supersede"}, sent,
			"b waits while a holds the lock; a repeated request is granted again, not queued twice")
		env.SignalWorkflow(api.LockReleaseSignal, LockRelease{Owner: "promote-a"})
	}, 4*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(api.LockReleaseSignal, LockRelease{Owner: "promote-b"}) }, 5*time.Second)
	env.ExecuteWorkflow(api.LockWorkflowName, LockInput{Key: "time-service/prod"})

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError(), "an idle lock ends")
	require.Equal(t, []string{"promote-a lock-granted", "promote-a lock-granted", "promote-a supersede", "promote-b lock-granted"}, sent)
}

func TestLockSkipsAnOwnerThatIsGone(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(Lock, workflowOptions(api.LockWorkflowName))
	env.OnSignalExternalWorkflow(mock.Anything, "promote-gone", "", api.LockGrantedSignal, mock.Anything).Return(errGone)
	granted := false
	env.OnSignalExternalWorkflow(mock.Anything, "promote-next", "", api.LockGrantedSignal, mock.Anything).Run(func(mock.Arguments) { granted = true }).Return(nil)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(api.LockAcquireSignal, LockRequest{Owner: "promote-gone"})
		env.SignalWorkflow(api.LockAcquireSignal, LockRequest{Owner: "promote-next"})
	}, time.Second)
	env.RegisterDelayedCallback(func() {
		require.True(t, granted)
		env.SignalWorkflow(api.LockReleaseSignal, LockRelease{Owner: "promote-next"})
	}, 2*time.Second)
	env.ExecuteWorkflow(api.LockWorkflowName, LockInput{Key: "time-service/prod"})
	require.NoError(t, env.GetWorkflowError())
}

var errGone = &notFound{}

type notFound struct{}

func (*notFound) Error() string { return "workflow not found" }
