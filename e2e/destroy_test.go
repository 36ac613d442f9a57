package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/cli"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestDestroy bootstraps dev in the sandbox, lets a preview of it live for a short TTL and
// expire, destroys dev, and checks that everything the
// bootstrap made is gone from the emulator and the cluster; a second destroy, with
// --purge-state, finds the rest gone and deletes the state bucket.
func TestDestroy(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end against the local stack; not part of -short")
	}
	cfg, _ := startStack(t)
	code, out := starter(t, "bootstrap", "--env", "dev", "--wait", "--as", "alice")
	require.Equal(t, 0, code, out)
	require.True(t, argoInstalled(t, cfg, "dev"))
	t.Run("a preview of dev lives for its TTL and goes", func(t *testing.T) { previewLivesAndExpires(t, cfg) })

	code, out = starter(t, "destroy", "--env", "dev", "--wait", "--as", "alice")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "destroy-dev: done")
	st := status(t, api.DestroyID("dev", 0))
	require.Equal(t, api.StageDone, st.Stage)
	steps := strings.Join(st.Steps, "\n")
	// The app-of-apps goes first; its finalizer takes the services' Applications and workloads with it.
	require.Contains(t, steps, "Applications deleted with their workloads (dev-apps")
	require.Contains(t, steps, "terraform destroy: ")
	require.Contains(t, steps, "ECR pull revoke switched off in idp.yaml (tooling.grantPull: false)")
	require.Contains(t, steps, "switched off by terraformVars in idp.yaml, so never created and not destroyed")
	require.Contains(t, steps, "enable_public_route_table")
	requireDevGone(t, cfg, false)

	code, out = starter(t, "destroy", "--env", "dev", "--purge-state", "--wait", "--as", "alice")
	require.Equal(t, 0, code, out)
	steps = strings.Join(status(t, api.DestroyID("dev", 0)).Steps, "\n")
	require.Contains(t, steps, "nothing left in the state, the infrastructure is already gone")
	require.Contains(t, steps, "already gone: s3://")
	require.Contains(t, steps, "already gone: role GitHubActionsRole, OIDC provider token.actions.githubusercontent.com")
	requireDevGone(t, cfg, true)

	code, out = starter(t, "list", "--kind", "destroy", "--env", "dev", "-o", "json")
	require.Equal(t, 0, code, out)
	var runs []cli.RunSummary
	require.NoError(t, json.Unmarshal([]byte(out), &runs))
	require.Len(t, runs, 2)
}

// requireDevGone checks that nothing dev's bootstrap created is left: no VPC, subnets or EKS
// cluster, no GitHub role or OIDC provider, no state object (nor, purged, the bucket), no Argo
// CD in the cluster.
func requireDevGone(t *testing.T, cfg *config.Config, purged bool) {
	t.Helper()
	ctx := context.Background()
	env, err := cfg.Env("dev")
	require.NoError(t, err)
	awsCfg, err := awsconf.Load(ctx, env.AWS)
	require.NoError(t, err)
	ec := ec2.NewFromConfig(awsCfg)
	vpcs, err := ec.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	require.NoError(t, err)
	require.Empty(t, vpcs.Vpcs)
	subnets, err := ec.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	require.NoError(t, err)
	require.Empty(t, subnets.Subnets)
	_, err = eks.NewFromConfig(awsCfg).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String(env.ClusterName)})
	require.Error(t, err, "the EKS cluster is gone")
	ic := iam.NewFromConfig(awsCfg)
	roles, err := ic.ListRoles(ctx, &iam.ListRolesInput{})
	require.NoError(t, err)
	for _, r := range roles.Roles {
		require.NotContains(t, []string{"GitHubActionsRole"}, awssdk.ToString(r.RoleName))
		require.False(t, strings.HasPrefix(awssdk.ToString(r.RoleName), env.ClusterName), "role %s is left", awssdk.ToString(r.RoleName))
	}
	providers, err := ic.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	require.NoError(t, err)
	require.Empty(t, providers.OpenIDConnectProviderList)
	s3c := awsconf.S3(awsCfg)
	_, err = s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &env.StateBucket})
	if purged {
		require.Error(t, err, "the purged state bucket is gone")
	} else {
		require.NoError(t, err, "the state bucket stays without --purge-state")
		_, err = s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &env.StateBucket, Key: &env.StateKey})
		require.Error(t, err, "the state object is gone")
	}
	cs, err := kubernetes.NewForConfig(kubeConfig(t, cfg, "dev"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ns, err := cs.CoreV1().Namespaces().Get(ctx, env.ArgoCD.Namespace, metav1.GetOptions{})
		return apierrors.IsNotFound(err) || (err == nil && ns.DeletionTimestamp != nil)
	}, time.Minute, time.Second, "the Argo CD namespace goes")
}
