package terraform_test

import (
	"context"
	"encoding/json"
	"maps"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/terraform"
	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/config"
)

// TestDriftAgainstEmulator applies infra/entry in an env of its own, finds no drift on the
// fresh env, then edits the env by hand in the emulator (a tag removed from the VPC, an
// inline policy of the node role rewritten) and finds exactly those resources drifted, by
// address, with none of the values in the report.
func TestDriftAgainstEmulator(t *testing.T) {
	ta, cfg, commit := againstEmulator(t)
	ctx := context.Background()
	env := cfg.Environments[0]
	env.Name, env.StateBucket, env.ClusterName = "drift", "state-drift", "idp-drift"
	// infra/entry has tfvars for dev, staging and prod only: this env's are variables.
	env.TerraformVars = maps.Clone(env.TerraformVars)
	maps.Copy(env.TerraformVars, map[string]any{"vpc_cidr": "10.40.0.0/16", "availability_zones": []string{"us-west-2a", "us-west-2b"},
		"public_subnet_cidrs": []string{"10.40.0.0/24", "10.40.1.0/24"}, "private_subnet_cidrs": []string{"10.40.32.0/19", "10.40.64.0/19"},
		"single_nat_gateway": true, "cluster_version": "1.33", "node_instance_types": []string{"t3.medium"},
		"node_min_size": 1, "node_max_size": 1, "node_desired_size": 1, "admin_role_arns": []string{"arn:aws:iam::111111111111:role/GitHubActionsRole"},
		"service_namespaces": map[string]string{"time-service": "time-service-drift"}})
	cfg.Environments = append(cfg.Environments, env)
	snap := mustSnapshot(t, cfg, "drift")
	_, err := aws.New().EnsureStateBackend(ctx, aws.StateBackendInput{Snapshot: snap})
	require.NoError(t, err)

	plan, err := ta.Plan(ctx, terraform.PlanInput{Snapshot: snap, Commit: commit, RunID: "bootstrap"})
	require.NoError(t, err)
	_, err = ta.Apply(ctx, terraform.ApplyInput{Snapshot: snap, Commit: commit, PlanKey: plan.Key, SHA256: plan.SHA256, Total: plan.Add})
	require.NoError(t, err)

	fresh, err := ta.PlanDrift(ctx, terraform.DriftInput{Snapshot: snap, Commit: commit, RunID: "fresh"})
	require.NoError(t, err)
	require.Empty(t, fresh.Drifted, "a fresh env has no drift")
	require.Empty(t, fresh.Changes, "a fresh env has nothing to change")

	const marker = "idp-drift-test-value"
	vpcID, role, policy := driftByHand(t, env.AWS, "idp-drift", marker)

	got, err := ta.PlanDrift(ctx, terraform.DriftInput{Snapshot: snap, Commit: commit, RunID: "drifted"})
	require.NoError(t, err)
	require.Contains(t, got.Drifted, "module.vpc.aws_vpc.this", "the VPC's removed tag is drift")
	nodePolicy := `module.eks.aws_iam_role_policy.node["` + policyKey(policy) + `"]`
	require.Contains(t, got.Drifted, nodePolicy, "the rewritten node policy is drift")
	require.Subset(t, got.Changes, []string{"module.vpc.aws_vpc.this", nodePolicy}, "a normal plan would put both back")
	b, err := json.Marshal(got)
	require.NoError(t, err)
	for _, v := range []string{marker, vpcID, role} {
		require.NotContains(t, string(b), v, "the report holds addresses, never values")
	}
}

// driftByHand removes the Name tag of the cluster's VPC and rewrites one inline policy of its
// node role, through the AWS SDK as a person with console access would. It returns the VPC's
// ID, the role and the policy it rewrote.
func driftByHand(t *testing.T, acct config.AWS, cluster, marker string) (vpcID, role, policy string) {
	t.Helper()
	ctx := context.Background()
	sdk, err := awsconf.Load(ctx, acct)
	require.NoError(t, err)
	ec := ec2.NewFromConfig(sdk)
	vpcs, err := ec.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: awssdk.String("tag:Name"), Values: []string{cluster}}}})
	require.NoError(t, err)
	require.Len(t, vpcs.Vpcs, 1, "the VPC named %s", cluster)
	vpcID = awssdk.ToString(vpcs.Vpcs[0].VpcId)
	_, err = ec.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{vpcID}, Tags: []ec2types.Tag{{Key: awssdk.String("Name")}}})
	require.NoError(t, err)

	ic := iam.NewFromConfig(sdk)
	role = cluster + "-node"
	list, err := ic.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: &role})
	require.NoError(t, err)
	require.NotEmpty(t, list.PolicyNames, "inline policies of %s", role)
	policy = list.PolicyNames[0]
	doc := `{"Version":"2012-10-17","Statement":[{"Sid":"` + "Marker" + `","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + marker + `/*"}]}`
	_, err = ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &role, PolicyName: &policy, PolicyDocument: &doc})
	require.NoError(t, err)
	return vpcID, role, policy
}

// policyKey is the for_each key of an inline policy named "<key>Equivalent".
func policyKey(name string) string {
	const suffix = "Equivalent"
	if len(name) > len(suffix) && name[len(name)-len(suffix):] == suffix {
		return name[:len(name)-len(suffix)]
	}
	return name
}
