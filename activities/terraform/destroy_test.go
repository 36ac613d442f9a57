package terraform_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/terraform"
)

// TestDestroyPlanApplyAgainstEmulator applies the env's infra, then plans its destruction
// (terraform plan -destroy) and applies exactly that plan: every resource the apply created
// is planned for removal and removed, and a second destroy plan has nothing left to do.
func TestDestroyPlanApplyAgainstEmulator(t *testing.T) {
	ta, cfg, commit := againstEmulator(t)
	ctx := context.Background()
	snap := mustSnapshot(t, cfg, "dev")

	plan, err := ta.Plan(ctx, terraform.PlanInput{Snapshot: snap, Commit: commit, RunID: "up"})
	require.NoError(t, err)
	_, err = ta.Apply(ctx, terraform.ApplyInput{Snapshot: snap, Commit: commit, PlanKey: plan.Key, SHA256: plan.SHA256, Total: plan.Add})
	require.NoError(t, err)

	down, err := ta.Plan(ctx, terraform.PlanInput{Snapshot: snap, Commit: commit, RunID: "down", Destroy: true})
	require.NoError(t, err)
	require.Zero(t, down.Add, "a destroy plan adds nothing: %+v", down.Summary)
	require.Equal(t, plan.Adds, down.Destroys, "the destroy plan removes exactly what the apply created")

	applied, err := ta.Apply(ctx, terraform.ApplyInput{Snapshot: snap, Commit: commit, PlanKey: down.Key, SHA256: down.SHA256, Total: down.Destroy})
	require.NoError(t, err)
	require.Equal(t, down.Destroy, applied.Done)

	again, err := ta.Plan(ctx, terraform.PlanInput{Snapshot: snap, Commit: commit, RunID: "again", Destroy: true})
	require.NoError(t, err)
	require.False(t, again.HasChanges(), "nothing is left to destroy: %+v", again.Summary)
}
