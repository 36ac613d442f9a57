package terraform

import (
	"testing"

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
