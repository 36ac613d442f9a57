package aws

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/internal/config"
)

// Hand-written, in-memory fakes of the narrow interfaces. Each keeps just enough state to
// answer the calls the activities make, records every write in calls (so a test can say
// "nothing was written"), and returns errs[operation] when a test injects one.

// fakeClients hands out the fakes and records the accounts it was asked for.
type fakeClients struct {
	s3       *memS3
	iam      *memIAM
	ecr      *memECR
	accounts []string
}

func (f *fakeClients) s3Client(_ context.Context, acct config.AWS) (s3API, error) {
	f.accounts = append(f.accounts, acct.AccountID)
	return f.s3, nil
}

func (f *fakeClients) iamClient(_ context.Context, acct config.AWS) (iamAPI, error) {
	f.accounts = append(f.accounts, acct.AccountID)
	return f.iam, nil
}

func (f *fakeClients) ecrClient(_ context.Context, acct config.AWS) (ecrAPI, error) {
	f.accounts = append(f.accounts, acct.AccountID)
	return f.ecr, nil
}

// apiErr is an AWS API error the SDK does not model, wrapped as the SDK wraps every
// operation's error.
func apiErr(op, code, msg string) error {
	return &smithy.OperationError{ServiceID: "test", OperationName: op, Err: &smithy.GenericAPIError{Code: code, Message: msg}}
}

// opErr wraps a modeled SDK error as the SDK does.
func opErr(op string, err error) error {
	return &smithy.OperationError{ServiceID: "test", OperationName: op, Err: err}
}

// calls records writes and hands out injected errors.
type calls struct {
	errs   map[string]error
	writes []string
}

func (c *calls) read(op string) error { return c.errs[op] }

func (c *calls) write(op string) error {
	if err := c.errs[op]; err != nil {
		return err
	}
	c.writes = append(c.writes, op)
	return nil
}

// memS3 is S3 with buckets.
type memS3 struct {
	calls
	buckets map[string]*memBucket
	// headMisses makes HeadBucket miss a bucket that exists: another run created it meanwhile.
	headMisses bool
	created    *s3.CreateBucketInput
}

type memBucket struct {
	versioning        s3types.BucketVersioningStatus
	encrypted, public bool
}

// compliantBucket is a bucket a previous run converged.
func compliantBucket() *memBucket {
	return &memBucket{versioning: s3types.BucketVersioningStatusEnabled, encrypted: true}
}

func (f *memS3) HeadBucket(_ context.Context, in *s3.HeadBucketInput, _ ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
	if err := f.read("HeadBucket"); err != nil {
		return nil, err
	}
	if _, ok := f.buckets[*in.Bucket]; !ok || f.headMisses {
		return nil, opErr("HeadBucket", &s3types.NotFound{})
	}
	return &s3.HeadBucketOutput{}, nil
}

func (f *memS3) CreateBucket(_ context.Context, in *s3.CreateBucketInput, _ ...func(*s3.Options)) (*s3.CreateBucketOutput, error) {
	if _, ok := f.buckets[*in.Bucket]; ok {
		return nil, opErr("CreateBucket", &s3types.BucketAlreadyOwnedByYou{})
	}
	if err := f.write("CreateBucket"); err != nil {
		return nil, err
	}
	f.created = in
	f.buckets[*in.Bucket] = &memBucket{public: true}
	return &s3.CreateBucketOutput{}, nil
}

func (f *memS3) GetBucketVersioning(_ context.Context, in *s3.GetBucketVersioningInput, _ ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error) {
	if err := f.read("GetBucketVersioning"); err != nil {
		return nil, err
	}
	return &s3.GetBucketVersioningOutput{Status: f.buckets[*in.Bucket].versioning}, nil
}

func (f *memS3) PutBucketVersioning(_ context.Context, in *s3.PutBucketVersioningInput, _ ...func(*s3.Options)) (*s3.PutBucketVersioningOutput, error) {
	if err := f.write("PutBucketVersioning"); err != nil {
		return nil, err
	}
	f.buckets[*in.Bucket].versioning = in.VersioningConfiguration.Status
	return &s3.PutBucketVersioningOutput{}, nil
}

func (f *memS3) GetBucketEncryption(_ context.Context, in *s3.GetBucketEncryptionInput, _ ...func(*s3.Options)) (*s3.GetBucketEncryptionOutput, error) {
	if err := f.read("GetBucketEncryption"); err != nil {
		return nil, err
	}
	if !f.buckets[*in.Bucket].encrypted {
		return nil, apiErr("GetBucketEncryption", codeNoEncryption, "The server side encryption configuration was not found")
	}
	return &s3.GetBucketEncryptionOutput{ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{
		Rules: []s3types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{
			SSEAlgorithm: s3types.ServerSideEncryptionAes256}}}}}, nil
}

func (f *memS3) PutBucketEncryption(_ context.Context, in *s3.PutBucketEncryptionInput, _ ...func(*s3.Options)) (*s3.PutBucketEncryptionOutput, error) {
	if err := f.write("PutBucketEncryption"); err != nil {
		return nil, err
	}
	f.buckets[*in.Bucket].encrypted = true
	return &s3.PutBucketEncryptionOutput{}, nil
}

func (f *memS3) GetPublicAccessBlock(_ context.Context, in *s3.GetPublicAccessBlockInput, _ ...func(*s3.Options)) (*s3.GetPublicAccessBlockOutput, error) {
	if err := f.read("GetPublicAccessBlock"); err != nil {
		return nil, err
	}
	if f.buckets[*in.Bucket].public {
		return nil, apiErr("GetPublicAccessBlock", codeNoPublicAccessBlock, "The public access block configuration was not found")
	}
	on := awssdk.Bool(true)
	return &s3.GetPublicAccessBlockOutput{PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
		BlockPublicAcls: on, BlockPublicPolicy: on, IgnorePublicAcls: on, RestrictPublicBuckets: on}}, nil
}

func (f *memS3) PutPublicAccessBlock(_ context.Context, in *s3.PutPublicAccessBlockInput, _ ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error) {
	if err := f.write("PutPublicAccessBlock"); err != nil {
		return nil, err
	}
	f.buckets[*in.Bucket].public = !blocked(&s3.GetPublicAccessBlockOutput{PublicAccessBlockConfiguration: in.PublicAccessBlockConfiguration})
	return &s3.PutPublicAccessBlockOutput{}, nil
}

// memIAM is IAM with OIDC providers, roles and their attached managed policies.
type memIAM struct {
	calls
	account   string
	providers map[string][]string // ARN → client IDs
	roles     map[string]string   // name → trust policy
	attached  map[string][]string // role → policy ARNs
	// managed are the managed policies that exist; attaching another is NoSuchEntity.
	managed []string
	// listMisses and getMisses make the first look miss what exists: another run created it.
	listMisses, getMisses int
}

func (f *memIAM) providerARN() string {
	return "arn:aws:iam::" + f.account + ":oidc-provider/" + githubIssuerHost
}

func (f *memIAM) ListOpenIDConnectProviders(context.Context, *iam.ListOpenIDConnectProvidersInput, ...func(*iam.Options)) (*iam.ListOpenIDConnectProvidersOutput, error) {
	if err := f.read("ListOpenIDConnectProviders"); err != nil {
		return nil, err
	}
	out := &iam.ListOpenIDConnectProvidersOutput{
		OpenIDConnectProviderList: []iamtypes.OpenIDConnectProviderListEntry{{Arn: awssdk.String("arn:aws:iam::" + f.account + ":oidc-provider/gitlab.com")}}}
	if f.listMisses > 0 {
		f.listMisses--
		return out, nil
	}
	for arn := range f.providers {
		out.OpenIDConnectProviderList = append(out.OpenIDConnectProviderList, iamtypes.OpenIDConnectProviderListEntry{Arn: awssdk.String(arn)})
	}
	return out, nil
}

func (f *memIAM) GetOpenIDConnectProvider(_ context.Context, in *iam.GetOpenIDConnectProviderInput, _ ...func(*iam.Options)) (*iam.GetOpenIDConnectProviderOutput, error) {
	if err := f.read("GetOpenIDConnectProvider"); err != nil {
		return nil, err
	}
	ids, ok := f.providers[*in.OpenIDConnectProviderArn]
	if !ok {
		return nil, opErr("GetOpenIDConnectProvider", &iamtypes.NoSuchEntityException{})
	}
	return &iam.GetOpenIDConnectProviderOutput{ClientIDList: ids}, nil
}

func (f *memIAM) CreateOpenIDConnectProvider(_ context.Context, in *iam.CreateOpenIDConnectProviderInput, _ ...func(*iam.Options)) (*iam.CreateOpenIDConnectProviderOutput, error) {
	arn := f.providerARN()
	if _, ok := f.providers[arn]; ok {
		return nil, opErr("CreateOpenIDConnectProvider", &iamtypes.EntityAlreadyExistsException{})
	}
	if err := f.write("CreateOpenIDConnectProvider"); err != nil {
		return nil, err
	}
	f.providers[arn] = in.ClientIDList
	return &iam.CreateOpenIDConnectProviderOutput{OpenIDConnectProviderArn: &arn}, nil
}

func (f *memIAM) AddClientIDToOpenIDConnectProvider(_ context.Context, in *iam.AddClientIDToOpenIDConnectProviderInput, _ ...func(*iam.Options)) (*iam.AddClientIDToOpenIDConnectProviderOutput, error) {
	if err := f.write("AddClientIDToOpenIDConnectProvider"); err != nil {
		return nil, err
	}
	f.providers[*in.OpenIDConnectProviderArn] = append(f.providers[*in.OpenIDConnectProviderArn], *in.ClientID)
	return &iam.AddClientIDToOpenIDConnectProviderOutput{}, nil
}

func (f *memIAM) roleARN(name string) *string {
	return awssdk.String("arn:aws:iam::" + f.account + ":role/" + name)
}

func (f *memIAM) GetRole(_ context.Context, in *iam.GetRoleInput, _ ...func(*iam.Options)) (*iam.GetRoleOutput, error) {
	if err := f.read("GetRole"); err != nil {
		return nil, err
	}
	trust, ok := f.roles[*in.RoleName]
	if f.getMisses > 0 {
		f.getMisses, ok = f.getMisses-1, false
	}
	if !ok {
		return nil, opErr("GetRole", &iamtypes.NoSuchEntityException{Message: awssdk.String("The role cannot be found")})
	}
	// IAM returns policy documents URL-encoded.
	return &iam.GetRoleOutput{Role: &iamtypes.Role{RoleName: in.RoleName, Arn: f.roleARN(*in.RoleName),
		AssumeRolePolicyDocument: awssdk.String(url.QueryEscape(trust))}}, nil
}

func (f *memIAM) CreateRole(_ context.Context, in *iam.CreateRoleInput, _ ...func(*iam.Options)) (*iam.CreateRoleOutput, error) {
	if _, ok := f.roles[*in.RoleName]; ok {
		return nil, opErr("CreateRole", &iamtypes.EntityAlreadyExistsException{})
	}
	if err := f.write("CreateRole"); err != nil {
		return nil, err
	}
	f.roles[*in.RoleName] = *in.AssumeRolePolicyDocument
	return &iam.CreateRoleOutput{Role: &iamtypes.Role{RoleName: in.RoleName, Arn: f.roleARN(*in.RoleName)}}, nil
}

func (f *memIAM) UpdateAssumeRolePolicy(_ context.Context, in *iam.UpdateAssumeRolePolicyInput, _ ...func(*iam.Options)) (*iam.UpdateAssumeRolePolicyOutput, error) {
	if err := f.write("UpdateAssumeRolePolicy"); err != nil {
		return nil, err
	}
	f.roles[*in.RoleName] = *in.PolicyDocument
	return &iam.UpdateAssumeRolePolicyOutput{}, nil
}

func (f *memIAM) ListAttachedRolePolicies(_ context.Context, in *iam.ListAttachedRolePoliciesInput, _ ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error) {
	if err := f.read("ListAttachedRolePolicies"); err != nil {
		return nil, err
	}
	// One policy a page, so the paginator is exercised.
	i := 0
	if in.Marker != nil {
		i, _ = strconv.Atoi(*in.Marker)
	}
	all := f.attached[*in.RoleName]
	out := &iam.ListAttachedRolePoliciesOutput{}
	if i < len(all) {
		out.AttachedPolicies = []iamtypes.AttachedPolicy{{PolicyArn: awssdk.String(all[i])}}
	}
	if i+1 < len(all) {
		out.IsTruncated, out.Marker = true, awssdk.String(strconv.Itoa(i+1))
	}
	return out, nil
}

func (f *memIAM) AttachRolePolicy(_ context.Context, in *iam.AttachRolePolicyInput, _ ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error) {
	if !slices.Contains(f.managed, *in.PolicyArn) {
		return nil, opErr("AttachRolePolicy", &iamtypes.NoSuchEntityException{Message: awssdk.String("Policy " + *in.PolicyArn + " does not exist or is not attachable.")})
	}
	if err := f.write("AttachRolePolicy"); err != nil {
		return nil, err
	}
	f.attached[*in.RoleName] = append(f.attached[*in.RoleName], *in.PolicyArn)
	return &iam.AttachRolePolicyOutput{}, nil
}

// memECR is ECR with repositories, their policies and their tagged images.
type memECR struct {
	calls
	repos map[string]*memRepo
}

type memRepo struct {
	policy string // "" means none
	images []ecrtypes.ImageIdentifier
}

func (f *memECR) repo(op, name string) (*memRepo, error) {
	if err := f.read(op); err != nil {
		return nil, err
	}
	r, ok := f.repos[name]
	if !ok {
		return nil, opErr(op, &ecrtypes.RepositoryNotFoundException{Message: awssdk.String("The repository with name '" + name + "' does not exist")})
	}
	return r, nil
}

func (f *memECR) GetRepositoryPolicy(_ context.Context, in *ecr.GetRepositoryPolicyInput, _ ...func(*ecr.Options)) (*ecr.GetRepositoryPolicyOutput, error) {
	r, err := f.repo("GetRepositoryPolicy", *in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if r.policy == "" {
		return nil, opErr("GetRepositoryPolicy", &ecrtypes.RepositoryPolicyNotFoundException{})
	}
	return &ecr.GetRepositoryPolicyOutput{RepositoryName: in.RepositoryName, PolicyText: awssdk.String(r.policy)}, nil
}

func (f *memECR) SetRepositoryPolicy(_ context.Context, in *ecr.SetRepositoryPolicyInput, _ ...func(*ecr.Options)) (*ecr.SetRepositoryPolicyOutput, error) {
	r, err := f.repo("SetRepositoryPolicy", *in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if err := f.write("SetRepositoryPolicy " + *in.RepositoryName); err != nil {
		return nil, err
	}
	r.policy = *in.PolicyText
	return &ecr.SetRepositoryPolicyOutput{}, nil
}

func (f *memECR) ListImages(_ context.Context, in *ecr.ListImagesInput, _ ...func(*ecr.Options)) (*ecr.ListImagesOutput, error) {
	r, err := f.repo("ListImages", *in.RepositoryName)
	if err != nil {
		return nil, err
	}
	// Two images a page, so the paginator is exercised.
	i := 0
	if in.NextToken != nil {
		i, _ = strconv.Atoi(*in.NextToken)
	}
	end := min(i+2, len(r.images))
	out := &ecr.ListImagesOutput{ImageIds: r.images[i:end]}
	if end < len(r.images) {
		out.NextToken = awssdk.String(strconv.Itoa(end))
	}
	return out, nil
}

// statements decodes a policy's statements by Sid.
func statements(t *testing.T, policy string) map[string]map[string]any {
	t.Helper()
	var doc struct {
		Statement []map[string]any
	}
	require.NoError(t, json.Unmarshal([]byte(policy), &doc))
	out := map[string]map[string]any{}
	for _, s := range doc.Statement {
		sid, _ := s["Sid"].(string)
		out[sid] = s
	}
	return out
}

// requireFail checks err is a non-retryable application error of type typ whose message
// contains each of msgs.
func requireFail(t *testing.T, err error, typ string, msgs ...string) {
	t.Helper()
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "want a %s application error, got %v", typ, err)
	require.Equal(t, typ, app.Type())
	require.True(t, app.NonRetryable(), "%s errors must not retry", typ)
	for _, m := range msgs {
		require.Contains(t, app.Message(), m)
	}
}

// requireRetryable checks err is an error Temporal retries.
func requireRetryable(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	var app *temporal.ApplicationError
	require.False(t, errors.As(err, &app) && app.NonRetryable(), "want a retryable error, got %v", err)
}

// Accounts of the fixture snapshot.
const (
	prodAccount    = "316762121478"
	toolingAccount = "864992049050"
	adminPolicy    = "arn:aws:iam::aws:policy/AdministratorAccess"
	readPolicy     = "arn:aws:iam::aws:policy/ReadOnlyAccess"
)

// prodSnapshot is a run's snapshot of a prod env, as workflows hand it to activities.
func prodSnapshot() config.Snapshot {
	return config.Snapshot{
		Env: config.Environment{Name: "prod", AWS: config.AWS{AccountID: prodAccount, Region: "us-west-2"},
			StateBucket: "terraform-state-prod", GitHubRole: "GitHubActionsRole", GitHubRef: "refs/heads/main",
			GitHubRolePolicies: []string{adminPolicy, readPolicy}},
		Repository: config.Repository{URL: "https://github.com/alexpermiakov/idp.git", GitHub: "alexpermiakov/idp"},
		Tooling: config.Tooling{AWS: config.AWS{AccountID: toolingAccount, Region: "us-west-2"},
			Repositories: map[string]string{"time-service": "idp/localtime", "version-service": "idp/version"}},
	}
}
