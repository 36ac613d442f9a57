//go:build faults

package faults

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/cmd/sandbox/stack"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestAWSThrottledAndDenied. Fault: dev's AWS endpoint (a proxy in front of its emulator)
// answers 20% of the calls of a bootstrap with a throttling error or 503, for idp's own AWS
// calls and terraform's alike. Must hold: those calls are retried with backoff and the
// bootstrap succeeds. Then IAM answers every call with AccessDenied (403): the bootstrap fails
// fast (no retry loop: one denied call, within a bounded time) with AWS's message and idp's
// hint about what to fix. Recovery: the whole bootstrap under throttling (it has no single
// outage to recover from).
func TestAWSThrottledAndDenied(t *testing.T) {
	r := up(t, stack.Options{})
	proxy := startAWSProxy(t, r.S.Endpoints["dev"], 0.2)
	r.pointAccount("dev", proxy.URL)
	r.StartWorker()
	const id = "bootstrap-dev"
	done := func(s api.Status) bool { return s.Stage == api.StageDone || s.Stage == api.StageFailed }

	start := time.Now()
	code, out := r.Starter("bootstrap", "--env", "dev")
	require.Equal(t, 0, code, out)
	st := r.AwaitStatus(id, 5*time.Minute, done)
	require.Equal(t, api.StageDone, st.Stage, "bootstrap under throttling: %s\n%s", st.Error, strings.Join(st.Steps, "\n"))
	took := time.Since(start)
	t.Logf("bootstrap under throttling: %d calls through the proxy, %d of them throttled or 503", proxy.Calls.Load(), proxy.Faulted.Load())
	require.Greater(t, proxy.Faulted.Load(), int64(10), "the proxy faulted too few calls to show anything")
	require.Equal(t, 1, r.account("dev").VPCs(), "VPCs after a throttled bootstrap")
	Recovered(t, "AWS throttling and 503 on 20% of calls (whole bootstrap)", took)

	proxy.SetFaults(0, func(service, _ string) bool { return service == "iam" })
	start = time.Now()
	code, out = r.Starter("bootstrap", "--env", "dev")
	require.Equal(t, 0, code, out)
	st = r.AwaitStatus(id, 90*time.Second, func(s api.Status) bool { return done(s) && s.Error != "" })
	took = time.Since(start)
	require.Equal(t, api.StageFailed, st.Stage)
	t.Logf("denied after %.1fs (%d denied calls): %s", took.Seconds(), proxy.Denied.Load(), st.Error)
	require.Less(t, took, 45*time.Second, "AccessDenied is retried")
	require.LessOrEqual(t, proxy.Denied.Load(), int64(2), "AccessDenied is retried")
	require.Contains(t, st.Error, "is not authorized to perform: iam:", "AWS's message")
	require.Contains(t, st.Error, "environments[].aws.assumeRole", "idp's hint")
}

// pointAccount makes the stack's idp.yaml name endpoint for env's AWS account; workers
// started after it use it.
func (r *rig) pointAccount(env, endpoint string) {
	r.t.Helper()
	b, err := os.ReadFile(r.S.Config)
	require.NoError(r.t, err)
	re := regexp.MustCompile(`endpoint: ` + regexp.QuoteMeta(r.S.Endpoints[env]) + `\}`)
	require.Len(r.t, re.FindAll(b, -1), 1, "the %s endpoint in %s", env, r.S.Config)
	b = re.ReplaceAll(b, []byte("endpoint: "+endpoint+"}"))
	require.NoError(r.t, os.WriteFile(r.S.Config, b, 0o644))
}
