package aws

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/config"
)

// teardownConfig is testConfig with a dev env of its own bucket and account, so the emulator
// the package's tests share holds nothing else of it.
func teardownConfig(endpoint string) *config.Config {
	cfg := testConfig(endpoint)
	cfg.Environments[0].AWS.AccountID = "222233334444"
	cfg.Environments[0].StateBucket = "terraform-state-teardown-dev"
	cfg.Environments[0].StateKey = "entry/terraform.tfstate"
	cfg.Environments[0].GitHubRole = "TeardownGitHubRole"
	return cfg
}

func TestRemoveStateAgainstEmulator(t *testing.T) {
	srv := sharedEmulator()
	ctx := context.Background()
	cfg := teardownConfig(srv.URL)
	snap := mustSnapshot(t, cfg, "dev")
	a := New()
	_, err := a.EnsureStateBackend(ctx, StateBackendInput{Snapshot: snap})
	require.NoError(t, err)
	sdkCfg, err := awsconf.Load(ctx, cfg.Environments[0].AWS)
	require.NoError(t, err)
	c := awsconf.S3(sdkCfg)
	bucket := cfg.Environments[0].StateBucket
	for _, key := range []string{"entry/terraform.tfstate", "entry/terraform.tfstate", "idp/plans/dev/a.tfplan", "idp/plans/prod/b.tfplan"} {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: awssdk.String(key), Body: strings.NewReader("{}")})
		require.NoError(t, err)
	}

	out, err := a.RemoveState(ctx, RemoveStateInput{Snapshot: snap})
	require.NoError(t, err)
	require.Equal(t, RemoveStateOutput{Bucket: bucket, Removed: []string{"s3://" + bucket + "/entry/terraform.tfstate",
		"s3://" + bucket + "/idp/plans/dev/a.tfplan"}}, out)
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket})
	require.NoError(t, err, "the bucket stays")
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: awssdk.String("idp/plans/prod/b.tfplan")})
	require.NoError(t, err, "another env's plan stays")

	again, err := a.RemoveState(ctx, RemoveStateInput{Snapshot: snap})
	require.NoError(t, err)
	require.Equal(t, RemoveStateOutput{Bucket: bucket, AlreadyGone: []string{"s3://" + bucket + "/entry/terraform.tfstate"}}, again)

	purged, err := a.RemoveState(ctx, RemoveStateInput{Snapshot: snap, Purge: true})
	require.NoError(t, err)
	require.True(t, purged.BucketDeleted)
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket})
	require.True(t, notFound(err), "the purged bucket is gone, every version with it: %v", err)

	gone, err := a.RemoveState(ctx, RemoveStateInput{Snapshot: snap, Purge: true})
	require.NoError(t, err)
	require.Equal(t, RemoveStateOutput{Bucket: bucket, AlreadyGone: []string{"bucket " + bucket}}, gone)
}

func TestRemoveGitHubOIDCAgainstEmulator(t *testing.T) {
	srv := sharedEmulator()
	ctx := context.Background()
	cfg := teardownConfig(srv.URL)
	snap := mustSnapshot(t, cfg, "dev")
	a := New()
	_, err := a.EnsureGitHubOIDC(ctx, OIDCInput{Snapshot: snap})
	require.NoError(t, err)

	kept, err := a.RemoveGitHubOIDC(ctx, RemoveOIDCInput{Snapshot: snap, KeepProvider: true})
	require.NoError(t, err)
	require.Equal(t, RemoveOIDCOutput{Removed: []string{"role TeardownGitHubRole"}}, kept)
	sdkCfg, err := awsconf.Load(ctx, cfg.Environments[0].AWS)
	require.NoError(t, err)
	c := iam.NewFromConfig(sdkCfg)
	_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("TeardownGitHubRole")})
	require.Error(t, err, "the role is gone")
	providers, err := c.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	require.NoError(t, err)
	require.NotEmpty(t, providers.OpenIDConnectProviderList, "the provider stays for the account's other envs")

	out, err := a.RemoveGitHubOIDC(ctx, RemoveOIDCInput{Snapshot: snap})
	require.NoError(t, err)
	require.Equal(t, RemoveOIDCOutput{Removed: []string{"OIDC provider token.actions.githubusercontent.com"},
		AlreadyGone: []string{"role TeardownGitHubRole"}}, out)

	again, err := a.RemoveGitHubOIDC(ctx, RemoveOIDCInput{Snapshot: snap})
	require.NoError(t, err)
	require.Equal(t, RemoveOIDCOutput{AlreadyGone: []string{"role TeardownGitHubRole", "OIDC provider token.actions.githubusercontent.com"}}, again)
}

func TestRevokeECRPull(t *testing.T) {
	f := &fakeECR{policies: map[string]string{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	ctx := context.Background()
	cfg := testConfig(srv.URL)
	a := New()
	for _, env := range []string{"dev", "prod"} {
		_, err := a.GrantECRPull(ctx, GrantInput{Snapshot: mustSnapshot(t, cfg, env)})
		require.NoError(t, err)
	}
	f.policies["idp/version"] = strings.Replace(f.policies["idp/version"], `"Statement":[`,
		`"Statement":[{"Sid":"CI","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::864992049050:role/ci"},"Action":"ecr:PutImage"},`, 1)

	out, err := a.RevokeECRPull(ctx, GrantInput{Snapshot: mustSnapshot(t, cfg, "prod")})
	require.NoError(t, err)
	require.Equal(t, []string{"idp/localtime", "idp/version"}, out.Changed)
	require.NotContains(t, f.policies["idp/localtime"], "IdpPullProd")
	require.Contains(t, f.policies["idp/localtime"], "IdpPullDev", "revoking prod keeps dev")
	require.Contains(t, f.policies["idp/version"], `"Sid":"CI"`, "someone else's statement stays")

	again, err := a.RevokeECRPull(ctx, GrantInput{Snapshot: mustSnapshot(t, cfg, "prod")})
	require.NoError(t, err)
	require.Empty(t, again.Changed, "a second revoke finds it gone")

	_, err = a.RevokeECRPull(ctx, GrantInput{Snapshot: mustSnapshot(t, cfg, "dev")})
	require.NoError(t, err)
	_, ok := f.policies["idp/localtime"]
	require.False(t, ok, "a policy left without statements is deleted")
	require.Contains(t, f.policies["idp/version"], `"Sid":"CI"`)
}
