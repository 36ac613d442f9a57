//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/terraform"
	"github.com/alexpermiakov/idp/cmd/sandbox/stack"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestWorkerKilledDuringApply. Fault: the worker is killed with SIGKILL (its terraform with
// it) during terraform apply of dev's bootstrap, once terraform reported the VPC created
// (with or without state written: either way the saved plan must not be applied). Must hold: a new worker finishes the bootstrap;
// the VPC, the EKS cluster and every IAM role exist exactly once in dev's emulator; the state
// lock the dead terraform left is released because its ID is the one the apply's heartbeat
// recorded, and status says so; the saved plan is not applied blind: a new plan imports what
// the dead apply created and, dev needing no plan approval, is applied without one.
// Recovery: from the kill until the bootstrap is done.
func TestWorkerKilledDuringApply(t *testing.T) {
	r := up(t, stack.Options{})
	w := r.StartWorker()
	const id = "bootstrap-dev"
	code, out := r.Starter("bootstrap", "--env", "dev")
	require.Equal(t, 0, code, out)
	dev := r.account("dev")

	require.Eventually(t, func() bool { return dev.VPCs() > 0 }, 4*time.Minute, 200*time.Millisecond,
		"terraform apply created no VPC in dev")
	lock := dev.Lock()
	require.NotNil(t, lock, "terraform apply runs without the state lock")
	var held struct{ ID string }
	require.NoError(t, json.Unmarshal(lock, &held), string(lock))
	// Killed once the apply's heartbeat has the lock and terraform reported the VPC created.
	var beat terraform.Progress
	require.Eventually(t, func() bool {
		beat = r.applyHeartbeat(id)
		return beat.LockID == held.ID && slices.ContainsFunc(beat.Created, func(c terraform.Created) bool { return strings.Contains(c.Addr, "aws_vpc.") })
	}, 30*time.Second, 100*time.Millisecond, "the apply's heartbeat does not record the state lock %s and the VPC", held.ID)
	created := beat.Created
	// terraform runs in a process group of its own, its provider plugins with it: the kill
	// must reach them too (Kill fails the test if any outlives the worker).
	require.True(t, slices.ContainsFunc(stack.Descendants(w.cmd.Process.Pid), func(pid int) bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		return strings.Contains(string(b), "terraform-provider-aws")
	}), "no terraform-provider-aws runs under the worker during apply")
	w.Kill()
	killed := time.Now()
	// Either way the saved plan must not be applied: with state written it is stale, without
	// it applying it would create what the dead apply created a second time.
	if st := dev.State(); st != nil {
		t.Logf("terraform wrote state (serial %d) before the kill", st.Serial)
	} else {
		t.Log("terraform wrote no state before the kill")
	}
	require.NotNil(t, dev.Lock(), "the killed terraform's state lock is gone by itself")
	t.Logf("killed with lock %s held and %d resources created (%v)", held.ID, len(created), created)

	r.StartWorker()
	st := r.AwaitStatus(id, 5*time.Minute, func(s api.Status) bool { return s.Stage == api.StageDone || s.Stage == api.StageFailed })
	require.Equal(t, api.StageDone, st.Stage, "bootstrap after the kill: %s\n%s", st.Error, strings.Join(st.Steps, "\n"))
	Recovered(t, "worker SIGKILL during terraform apply", time.Since(killed))
	steps := strings.Join(st.Steps, "\n")
	t.Logf("steps:\n%s", steps)

	// The lock: released by ID, said in status, gone.
	require.Contains(t, steps, fmt.Sprintf("state lock %s left by the killed apply", held.ID))
	require.Nil(t, dev.Lock(), "a state lock is left after the bootstrap")
	// The path: the saved plan went stale, a new plan imports what the dead apply created, no approval (dev).
	require.Contains(t, steps, "went stale before apply")
	require.Regexp(t, `terraform plan [0-9a-f]+: \d+ to import`, steps)
	require.Empty(t, st.Approvals, "dev asks no plan approval, after a re-plan either")
	require.NotNil(t, st.Plan)
	require.Positive(t, st.Plan.Import)

	// Every resource exactly once.
	state := dev.State()
	require.Equal(t, 1, dev.VPCs(), "VPCs of idp-dev")
	require.Equal(t, []string{"idp-dev"}, dev.Clusters())
	roles := dev.Roles()
	sorted := slices.Clone(roles)
	slices.Sort(sorted)
	require.Equal(t, len(sorted), len(slices.Compact(sorted)), "duplicate IAM roles: %v", roles)
	require.Len(t, roles, state.Count("aws_iam_role")+1, "IAM roles: terraform's and GitHubActionsRole: %v", roles)
	for _, typ := range []string{"aws_vpc", "aws_eks_cluster", "aws_subnet"} {
		require.Positive(t, state.Count(typ), "the state holds no %s", typ)
	}
}

// applyHeartbeat is the last heartbeat of the run's pending terraform apply, or zero.
func (r *rig) applyHeartbeat(id string) terraform.Progress {
	r.t.Helper()
	c := r.Client()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	desc, err := c.DescribeWorkflow(ctx, id, "")
	require.NoError(r.t, err)
	var p terraform.Progress
	for _, pa := range desc.RawResponse.GetPendingActivities() {
		if pa.ActivityType.GetName() != "Apply" || pa.HeartbeatDetails == nil {
			continue
		}
		if len(pa.HeartbeatDetails.Payloads) > 0 {
			_ = json.Unmarshal(pa.HeartbeatDetails.Payloads[0].Data, &p)
		}
	}
	return p
}
