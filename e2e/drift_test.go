package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/cli"
	"github.com/alexpermiakov/idp/internal/config"
)

// driftChecks, on a bootstrapped dev: a check finds no drift; a tag removed from dev's VPC in
// the emulator by hand is reported by its address and no value, exit 4, and listed by
// `starter list --drifted`.
func driftChecks(t *testing.T, cfg *config.Config) {
	t.Helper()
	code, out := starter(t, "drift", "--env", "dev", "--wait", "--as", "alice")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "dev matches platform commit")
	code, out = starter(t, "list", "--drifted")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "no env drifted at its latest check")

	env, err := cfg.Env("dev")
	require.NoError(t, err)
	ctx := context.Background()
	sdk, err := awsconf.Load(ctx, env.AWS)
	require.NoError(t, err)
	ec := ec2.NewFromConfig(sdk)
	vpcs, err := ec.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: awssdk.String("tag:Name"), Values: []string{env.ClusterName}}}})
	require.NoError(t, err)
	require.Len(t, vpcs.Vpcs, 1)
	vpcID := awssdk.ToString(vpcs.Vpcs[0].VpcId)
	_, err = ec.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{vpcID}, Tags: []ec2types.Tag{{Key: awssdk.String("Name")}}})
	require.NoError(t, err)

	code, out = starter(t, "drift", "--env", "dev", "--wait", "--as", "alice")
	require.Equal(t, cli.ExitDrifted, code, out)
	require.Contains(t, out, "changed outside terraform (plan -refresh-only):\n  - module.vpc.aws_vpc.this\n")
	require.NotContains(t, out, vpcID, "addresses, never values")
	st := status(t, "drift-dev")
	require.NotNil(t, st.Drift)
	require.True(t, st.Drift.Drifted)
	require.Contains(t, st.Drift.Terraform, "module.vpc.aws_vpc.this")
	require.Eventually(t, func() bool {
		code, out = starter(t, "list", "--drifted")
		return code == 0 && strings.Contains(out, "dev  ")
	}, 30*time.Second, time.Second, "list --drifted: %s", out)
}
