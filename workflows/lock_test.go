package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/alexpermiakov/idp/activities/platform"
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

// lockEnv is a test lock whose owners exist unless gone lists them, and whose liveness
// checks answer from running.
type lockEnv struct {
	env     *testsuite.TestWorkflowEnvironment
	granted []string
	checked []string
}

func newLockEnv(t *testing.T, running map[string]bool, gone ...string) *lockEnv {
	var ts testsuite.WorkflowTestSuite
	l := &lockEnv{env: ts.NewTestWorkflowEnvironment()}
	l.env.RegisterWorkflowWithOptions(Lock, workflowOptions(api.LockWorkflowName))
	l.env.RegisterActivity(sa)
	for _, g := range gone {
		l.env.OnSignalExternalWorkflow(mock.Anything, g, "", api.LockGrantedSignal, mock.Anything).Return(errGone)
	}
	l.env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", api.LockGrantedSignal, mock.Anything).
		Run(func(args mock.Arguments) { l.granted = append(l.granted, args.String(1)) }).Return(nil)
	l.env.OnActivity(sa.WorkflowRunning, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in platform.WorkflowRunningInput) (platform.WorkflowRunningOutput, error) {
			l.checked = append(l.checked, in.WorkflowID)
			if running[in.WorkflowID] {
				return platform.WorkflowRunningOutput{Running: true, Status: "running"}, nil
			}
			return platform.WorkflowRunningOutput{Status: "terminated"}, nil
		}).Maybe()
	t.Cleanup(func() { l.env.AssertExpectations(t) })
	return l
}

func (l *lockEnv) at(d time.Duration, f func()) { l.env.RegisterDelayedCallback(f, d) }

func (l *lockEnv) acquire(owner string) {
	l.env.SignalWorkflow(api.LockAcquireSignal, LockRequest{Owner: owner})
}

func (l *lockEnv) release(owner string) {
	l.env.SignalWorkflow(api.LockReleaseSignal, LockRelease{Owner: owner})
}

func (l *lockEnv) status(t *testing.T) LockStatus {
	v, err := l.env.QueryWorkflow(api.StatusQuery)
	require.NoError(t, err)
	var st LockStatus
	require.NoError(t, v.Get(&st))
	return st
}

func (l *lockEnv) run(t *testing.T, in LockInput) {
	l.env.ExecuteWorkflow(api.LockWorkflowName, in)
	require.True(t, l.env.IsWorkflowCompleted())
	require.NoError(t, l.env.GetWorkflowError())
}

func TestLockReleasesAHolderThatEnded(t *testing.T) {
	l := newLockEnv(t, map[string]bool{})
	l.at(time.Second, func() { l.acquire("promote-a") })
	l.at(2*time.Second, func() { l.acquire("promote-b") })
	l.at(2*time.Second+4*time.Second, func() {
		require.Equal(t, []string{"promote-a"}, l.granted, "no check before the interval")
		require.Empty(t, l.checked)
	})
	l.at(2*time.Second+6*time.Second, func() {
		require.Equal(t, []string{"promote-a", "promote-b"}, l.granted, "b gets the lock after one check")
		require.Equal(t, []string{"promote-a"}, l.checked)
		st := l.status(t)
		require.Equal(t, "promote-b", st.Holder)
		require.Empty(t, st.Queue)
		require.Equal(t, "promote-a: released: its workflow is terminated and never released the lock", st.LastReason)
		l.release("promote-b")
	})
	l.run(t, LockInput{Key: "time-service/prod", CheckInterval: 5 * time.Second})
	require.Equal(t, []string{"promote-a"}, l.checked, "no check without waiters")
}

func TestLockKeepsAHolderThatRuns(t *testing.T) {
	l := newLockEnv(t, map[string]bool{"promote-a": true, "promote-b": true})
	l.at(time.Second, func() { l.acquire("promote-a") })
	l.at(2*time.Second, func() { l.acquire("promote-b") })
	l.at(2*time.Minute, func() {
		require.Equal(t, []string{"promote-a"}, l.granted)
		require.Len(t, l.checked, 3, "one check every 30s while b waits")
		st := l.status(t)
		require.Equal(t, "promote-a", st.Holder)
		require.Equal(t, []LockRequest{{Owner: "promote-b"}}, st.Queue)
		require.Empty(t, st.Released)
		l.release("promote-a")
	})
	l.at(10*time.Minute, func() { l.release("promote-b") })
	l.run(t, LockInput{Key: "time-service/prod"})
	require.Equal(t, []string{"promote-a", "promote-b"}, l.granted)
	require.Len(t, l.checked, 3, "a lone holder is not checked")
}

func TestLockSkipsAQueuedOwnerThatIsGoneAfterTheHolderEnded(t *testing.T) {
	l := newLockEnv(t, map[string]bool{}, "promote-b")
	l.at(time.Second, func() { l.acquire("promote-a") })
	l.at(2*time.Second, func() {
		l.acquire("promote-b")
		l.acquire("promote-c")
	})
	l.at(time.Minute, func() {
		require.Equal(t, []string{"promote-a", "promote-c"}, l.granted)
		st := l.status(t)
		require.Equal(t, "promote-c", st.Holder)
		require.Len(t, st.Released, 2)
		require.Contains(t, st.Released[0], "promote-a: released: its workflow is terminated")
		require.Contains(t, st.LastReason, "promote-b: skipped: gone when its turn came")
		l.release("promote-c")
	})
	l.run(t, LockInput{Key: "time-service/prod"})
}

// TestLockKeepsARequestThatArrivesAsItCloses: the holder releases while the ones queued are
// gone, each found gone only after a while, and a new request arrives while the last is
// told: the lock goes to it, not closing with the request unread.
func TestLockKeepsARequestThatArrivesAsItCloses(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(Lock, workflowOptions(api.LockWorkflowName))
	env.RegisterActivity(sa)
	var granted []string
	for _, gone := range []string{"promote-gone-1", "promote-gone-2"} {
		env.OnSignalExternalWorkflow(mock.Anything, gone, "", api.LockGrantedSignal, mock.Anything).After(10 * time.Second).Return(errGone)
	}
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", api.LockGrantedSignal, mock.Anything).
		Run(func(args mock.Arguments) { granted = append(granted, args.String(1)) }).Return(nil)
	env.OnActivity(sa.WorkflowRunning, mock.Anything, mock.Anything).Return(platform.WorkflowRunningOutput{Running: true, Status: "running"}, nil).Maybe()
	at := func(d time.Duration, name string, arg any) {
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(name, arg) }, d)
	}
	at(time.Second, api.LockAcquireSignal, LockRequest{Owner: "promote-a"})
	at(30*time.Second, api.LockAcquireSignal, LockRequest{Owner: "promote-gone-1"})
	// a releases at 1m; gone-1 is told from 1m to 1m10s, gone-2 (asking meanwhile) from 1m10s
	// to 1m20s, and c asks while gone-2 is told.
	at(time.Minute, api.LockReleaseSignal, LockRelease{Owner: "promote-a"})
	at(time.Minute+5*time.Second, api.LockAcquireSignal, LockRequest{Owner: "promote-gone-2"})
	at(time.Minute+15*time.Second, api.LockAcquireSignal, LockRequest{Owner: "promote-c"})
	at(5*time.Minute, api.LockReleaseSignal, LockRelease{Owner: "promote-c"})
	env.ExecuteWorkflow(api.LockWorkflowName, LockInput{Key: "time-service/dev"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"promote-a", "promote-c"}, granted, "c, asking while gone-2 was told, got the lock")
}
