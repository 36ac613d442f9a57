package terraform

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/stretchr/testify/require"
)

func TestDriftAddresses(t *testing.T) {
	update := func(addr string, before, after map[string]any) *tfjson.ResourceChange {
		return &tfjson.ResourceChange{Address: addr, Mode: tfjson.ManagedResourceMode,
			Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionUpdate}, Before: before, After: after}}
	}
	plan := &tfjson.Plan{ResourceDrift: []*tfjson.ResourceChange{
		// what the first refresh after an apply fills in: no drift
		update("aws_iam_role.node", map[string]any{"name": "n", "inline_policy": []any{}, "tags": nil},
			map[string]any{"name": "n", "inline_policy": []any{map[string]any{"name": "p", "policy": "{}"}}, "tags": map[string]any{}}),
		update("aws_vpc.this", map[string]any{"default_route_table_id": "", "tags": map[string]any{"Name": "x"}},
			map[string]any{"default_route_table_id": "rtb-1", "tags": map[string]any{"Name": "x"}}),
		update("aws_eks_cluster.this", map[string]any{"vpc_config": []any{map[string]any{"security_group_ids": nil, "subnet_ids": []any{"a"}}}},
			map[string]any{"vpc_config": []any{map[string]any{"security_group_ids": []any{}, "subnet_ids": []any{"a"}}}}),
		// drift: a tag removed, a policy rewritten, a list that lost an entry, a resource deleted
		update("aws_subnet.public", map[string]any{"tags": map[string]any{"Name": "x", "Tier": "public"}},
			map[string]any{"tags": map[string]any{"Name": "x"}}),
		update("aws_iam_role_policy.node", map[string]any{"policy": `{"a":1}`}, map[string]any{"policy": `{"a":2}`}),
		update("aws_eks_cluster.other", map[string]any{"subnet_ids": []any{"a", "b"}}, map[string]any{"subnet_ids": []any{"a"}}),
		{Address: "aws_route.gone", Mode: tfjson.ManagedResourceMode, Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionDelete}}},
		// not resources of ours
		{Address: "data.aws_caller_identity.this", Mode: tfjson.DataResourceMode, Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionUpdate}}},
		{Address: "aws_s3_bucket.same", Mode: tfjson.ManagedResourceMode, Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionNoop}}},
	}}
	require.Equal(t, []string{"aws_eks_cluster.other", "aws_iam_role_policy.node", "aws_route.gone", "aws_subnet.public"}, driftAddresses(plan))
}

// driftTerraform records each plan's options; the refresh-only plan answers refresh, the
// normal one plan.
type driftTerraform struct {
	fakeTerraform
	refresh *tfjson.Plan
	opts    [][]tfexec.PlanOption
	paths   []string
}

func (f *driftTerraform) Plan(_ context.Context, opts ...tfexec.PlanOption) (bool, error) {
	f.opts = append(f.opts, opts)
	return true, nil
}

func (f *driftTerraform) ShowPlanFile(_ context.Context, path string, _ ...tfexec.ShowOption) (*tfjson.Plan, error) {
	f.paths = append(f.paths, path)
	if filepath.Base(path) == "refresh.tfplan" {
		return f.refresh, nil
	}
	return f.plan, nil
}

func TestPlanDriftNeitherLocksNorKeepsPlans(t *testing.T) {
	url, commit := platformRepo(t)
	tf := &driftTerraform{
		refresh: &tfjson.Plan{ResourceDrift: []*tfjson.ResourceChange{{Address: "aws_vpc.this", Mode: tfjson.ManagedResourceMode,
			Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionUpdate}, Before: map[string]any{"tags": map[string]any{"Name": "x"}}, After: map[string]any{}}}}},
		fakeTerraform: fakeTerraform{plan: &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
			{Address: "aws_vpc.this", Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionUpdate}}},
			{Address: "aws_subnet.new", Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionCreate}}},
			{Address: "aws_iam_role.same", Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionNoop}}}}}},
	}
	store := &fakeStore{}
	a := withFakes(t, url, &tf.fakeTerraform, store)
	a.newRunner = func(string, map[string]string) (runner, error) { return tf, nil }

	out, err := a.PlanDrift(context.Background(), DriftInput{Snapshot: devSnapshot(), Commit: commit, RunID: "r1"})
	require.NoError(t, err)
	require.Equal(t, DriftOutput{Drifted: []string{"aws_vpc.this"}, Changes: []string{"aws_subnet.new", "aws_vpc.this"}}, out)
	require.Len(t, tf.opts, 2)
	for i, opts := range tf.opts {
		require.Contains(t, opts, tfexec.Lock(false), "plan %d takes no state lock", i)
	}
	require.Contains(t, tf.opts[0], tfexec.RefreshOnly(true))
	require.NotContains(t, tf.opts[1], tfexec.RefreshOnly(true))
	require.Empty(t, store.objects, "no plan file is kept")
	_, err = os.Stat(filepath.Dir(filepath.Dir(filepath.Dir(tf.paths[0]))))
	require.True(t, os.IsNotExist(err), "the working directory, plan files and all, is gone: %v", err)
}
