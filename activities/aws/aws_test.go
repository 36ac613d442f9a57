package aws

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/sivchari/kumo"
	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/config"
)

func testConfig(endpoint string) *config.Config {
	cfg := &config.Config{
		Repository: config.Repository{URL: "file:///dev/null", GitHub: "alexpermiakov/idp"},
		Tooling: config.Tooling{AWS: config.AWS{AccountID: "864992049050", Region: "us-west-2", Endpoint: endpoint},
			Repositories: map[string]string{"time-service": "idp/localtime", "version-service": "idp/version"}},
		Environments: []config.Environment{
			{Name: "dev", AWS: config.AWS{AccountID: "935743309409", Region: "us-west-2", Endpoint: endpoint},
				StateBucket: "terraform-state-alexidp-dev", GitHubRole: "GitHubActionsRole", GitHubRolePolicies: []string{}},
			{Name: "prod", AWS: config.AWS{AccountID: "316762121478", Region: "us-west-2", Endpoint: endpoint},
				StateBucket: "terraform-state-alexidp-prod", GitHubRole: "GitHubActionsRole", GitHubRef: "refs/heads/main", GitHubRolePolicies: []string{}},
		},
	}
	return cfg
}

func TestStateBackendAgainstEmulator(t *testing.T) {
	srv := sharedEmulator()
	ctx := context.Background()
	cfg := testConfig(srv.URL)
	a := New()

	out, err := a.EnsureStateBackend(ctx, StateBackendInput{Snapshot: mustSnapshot(t, cfg, "dev")})
	require.NoError(t, err)
	require.True(t, out.Created)

	sdkCfg, err := awsconf.Load(ctx, cfg.Environments[0].AWS)
	require.NoError(t, err)
	c := awsconf.S3(sdkCfg)
	bucket := "terraform-state-alexidp-dev"
	ver, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &bucket})
	require.NoError(t, err)
	require.Equal(t, s3types.BucketVersioningStatusEnabled, ver.Status)
	enc, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &bucket})
	require.NoError(t, err)
	require.True(t, encrypted(enc))
	pab, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &bucket})
	require.NoError(t, err)
	require.True(t, blocked(pab))

	again, err := a.EnsureStateBackend(ctx, StateBackendInput{Snapshot: mustSnapshot(t, cfg, "dev")})
	require.NoError(t, err)
	require.Equal(t, StateBackendOutput{Bucket: bucket}, again, "a second run changes nothing")

	// Someone suspends versioning by hand: the next run restores it and says so.
	_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &bucket,
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusSuspended}})
	require.NoError(t, err)
	fixed, err := a.EnsureStateBackend(ctx, StateBackendInput{Snapshot: mustSnapshot(t, cfg, "dev")})
	require.NoError(t, err)
	require.Equal(t, []string{"versioning"}, fixed.Changed)
}

func TestGitHubOIDCAgainstEmulator(t *testing.T) {
	srv := sharedEmulator()
	ctx := context.Background()
	cfg := testConfig(srv.URL)
	a := New()

	first, err := a.EnsureGitHubOIDC(ctx, OIDCInput{Snapshot: mustSnapshot(t, cfg, "prod")})
	require.NoError(t, err)
	require.True(t, first.Created)
	require.Contains(t, first.ProviderARN, "oidc-provider/token.actions.githubusercontent.com")

	sdkCfg, err := awsconf.Load(ctx, cfg.Environments[1].AWS)
	require.NoError(t, err)
	c := iam.NewFromConfig(sdkCfg)
	providers, err := c.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	require.NoError(t, err)
	require.Len(t, providers.OpenIDConnectProviderList, 1)

	role, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("GitHubActionsRole")})
	require.NoError(t, err)
	trust := decodePolicy(t, awssdk.ToString(role.Role.AssumeRolePolicyDocument))
	require.Contains(t, trust, `"token.actions.githubusercontent.com:sub":"repo:alexpermiakov/idp:ref:refs/heads/main"`)
	require.Contains(t, trust, `"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"`)

	second, err := a.EnsureGitHubOIDC(ctx, OIDCInput{Snapshot: mustSnapshot(t, cfg, "prod")})
	require.NoError(t, err)
	require.False(t, second.Created)
	require.Empty(t, second.Restored, "a second run changes nothing")
	providers, err = c.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	require.NoError(t, err)
	require.Len(t, providers.OpenIDConnectProviderList, 1, "no duplicate provider")

	// A hand edit widens the trust to every repository: the next run restores it.
	wide := strings.ReplaceAll(trust, "repo:alexpermiakov/idp:ref:refs/heads/main", "repo:*")
	_, err = c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: awssdk.String("GitHubActionsRole"), PolicyDocument: &wide})
	require.NoError(t, err)
	third, err := a.EnsureGitHubOIDC(ctx, OIDCInput{Snapshot: mustSnapshot(t, cfg, "prod")})
	require.NoError(t, err)
	require.Equal(t, []string{"trust policy of GitHubActionsRole"}, third.Restored)
	role, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("GitHubActionsRole")})
	require.NoError(t, err)
	require.Contains(t, decodePolicy(t, awssdk.ToString(role.Role.AssumeRolePolicyDocument)), "repo:alexpermiakov/idp:ref:refs/heads/main")
}

func decodePolicy(t *testing.T, doc string) string {
	t.Helper()
	if dec, err := url.QueryUnescape(doc); err == nil {
		doc = dec
	}
	var v any
	require.NoError(t, json.Unmarshal([]byte(doc), &v))
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestTrustPolicyScopes(t *testing.T) {
	any, err := TrustPolicy("arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com", "o/r", "")
	require.NoError(t, err)
	require.Contains(t, any, `"StringLike":{"token.actions.githubusercontent.com:sub":"repo:o/r:*"}`)
	_, err = TrustPolicy("arn", "", "")
	require.ErrorContains(t, err, "repository.github is empty")
}

// fakeECR speaks the ECR JSON protocol for the repository policy calls, which the
// emulator does not implement.
type fakeECR struct {
	mu       sync.Mutex
	policies map[string]string
	sets     int
}

func (f *fakeECR) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var in struct {
		RepositoryName string `json:"repositoryName"`
		PolicyText     string `json:"policyText"`
	}
	body, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(body, &in)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	switch r.Header.Get("X-Amz-Target") {
	case "AmazonEC2ContainerRegistry_V20150921.GetRepositoryPolicy":
		p, ok := f.policies[in.RepositoryName]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"RepositoryPolicyNotFoundException","message":"no policy"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"repositoryName": in.RepositoryName, "policyText": p})
	case "AmazonEC2ContainerRegistry_V20150921.SetRepositoryPolicy":
		f.sets++
		f.policies[in.RepositoryName] = in.PolicyText
		_ = json.NewEncoder(w).Encode(map[string]string{"repositoryName": in.RepositoryName, "policyText": in.PolicyText})
	case "AmazonEC2ContainerRegistry_V20150921.DeleteRepositoryPolicy":
		p, ok := f.policies[in.RepositoryName]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"RepositoryPolicyNotFoundException","message":"no policy"}`)
			return
		}
		delete(f.policies, in.RepositoryName)
		_ = json.NewEncoder(w).Encode(map[string]string{"repositoryName": in.RepositoryName, "policyText": p})
	default:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"InvalidAction","message":"unexpected"}`)
	}
}

func TestGrantECRPull(t *testing.T) {
	f := &fakeECR{policies: map[string]string{
		// A statement someone else owns must survive.
		"idp/version": `{"Version":"2012-10-17","Statement":[{"Sid":"CI","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::864992049050:role/ci"},"Action":"ecr:PutImage"}]}`,
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	ctx := context.Background()
	cfg := testConfig(srv.URL)
	a := New()

	out, err := a.GrantECRPull(ctx, GrantInput{Snapshot: mustSnapshot(t, cfg, "dev")})
	require.NoError(t, err)
	require.Equal(t, []string{"idp/localtime", "idp/version"}, out.Changed)
	require.Contains(t, f.policies["idp/version"], `"Sid":"CI"`)
	require.Contains(t, f.policies["idp/version"], `"Sid":"IdpPullDev"`)
	require.Contains(t, f.policies["idp/localtime"], `arn:aws:iam::935743309409:root`)

	again, err := a.GrantECRPull(ctx, GrantInput{Snapshot: mustSnapshot(t, cfg, "dev")})
	require.NoError(t, err)
	require.Empty(t, again.Changed, "a second run changes nothing")
	require.Equal(t, 2, f.sets)

	prod, err := a.GrantECRPull(ctx, GrantInput{Snapshot: mustSnapshot(t, cfg, "prod")})
	require.NoError(t, err)
	require.Len(t, prod.Changed, 2)
	require.Contains(t, f.policies["idp/localtime"], `"Sid":"IdpPullDev"`, "granting prod keeps dev")
	require.Contains(t, f.policies["idp/localtime"], `"Sid":"IdpPullProd"`)
}

func mustSnapshot(t testing.TB, cfg *config.Config, env string) config.Snapshot {
	t.Helper()
	snap, err := cfg.Snapshot(env)
	require.NoError(t, err)
	return snap
}

var (
	emulatorOnce sync.Once
	emulator     *kumo.Server
)

// sharedEmulator is the one in-process AWS emulator this test binary uses: kumo keeps its
// stores process-wide, and a second server started while the first still runs background
// work is a data race inside kumo. Tests use distinct buckets, roles and accounts.
func sharedEmulator() *kumo.Server {
	emulatorOnce.Do(func() { emulator = kumo.NewServer() })
	return emulator
}
