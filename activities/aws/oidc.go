package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// GitHub's OIDC issuer and the audience AWS expects in its tokens.
const (
	githubIssuerHost = "token.actions.githubusercontent.com"
	githubAudience   = "sts.amazonaws.com"
)

// githubThumbprints are the published certificate thumbprints of GitHub's OIDC issuer. AWS
// no longer checks them for this issuer, but older API versions require at least one.
var githubThumbprints = []string{"6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"}

// iamAPI is the part of IAM the GitHub OIDC trust needs.
type iamAPI interface {
	ListOpenIDConnectProviders(context.Context, *iam.ListOpenIDConnectProvidersInput, ...func(*iam.Options)) (*iam.ListOpenIDConnectProvidersOutput, error)
	GetOpenIDConnectProvider(context.Context, *iam.GetOpenIDConnectProviderInput, ...func(*iam.Options)) (*iam.GetOpenIDConnectProviderOutput, error)
	CreateOpenIDConnectProvider(context.Context, *iam.CreateOpenIDConnectProviderInput, ...func(*iam.Options)) (*iam.CreateOpenIDConnectProviderOutput, error)
	AddClientIDToOpenIDConnectProvider(context.Context, *iam.AddClientIDToOpenIDConnectProviderInput, ...func(*iam.Options)) (*iam.AddClientIDToOpenIDConnectProviderOutput, error)
	GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	CreateRole(context.Context, *iam.CreateRoleInput, ...func(*iam.Options)) (*iam.CreateRoleOutput, error)
	UpdateAssumeRolePolicy(context.Context, *iam.UpdateAssumeRolePolicyInput, ...func(*iam.Options)) (*iam.UpdateAssumeRolePolicyOutput, error)
	ListAttachedRolePolicies(context.Context, *iam.ListAttachedRolePoliciesInput, ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error)
	AttachRolePolicy(context.Context, *iam.AttachRolePolicyInput, ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error)
}

// OIDCInput names the environment whose GitHub trust to converge.
type OIDCInput struct {
	Snapshot config.Snapshot `json:"snapshot"`
}

// OIDCOutput says what EnsureGitHubOIDC found and did.
type OIDCOutput struct {
	ProviderARN string `json:"providerArn"`
	RoleARN     string `json:"roleArn"`
	// Created is true when the provider or the role had to be created.
	Created bool `json:"created"`
	// Restored lists drift that was put back (a hand-edited trust policy, a lost audience).
	Restored []string `json:"restored,omitempty"`
}

// EnsureGitHubOIDC makes GitHub's OIDC provider exist in the env's account and the GitHub
// role trust only this repository (and only its configured ref, for prod). A trust policy
// edited by hand is restored and reported.
func (a *Activities) EnsureGitHubOIDC(ctx context.Context, in OIDCInput) (OIDCOutput, error) {
	env, err := in.Snapshot.Environment()
	if err != nil {
		return OIDCOutput{}, fail.Wrap(fail.Config, err, "activity input")
	}
	c, err := a.sdk().iamClient(ctx, env.AWS)
	if err != nil {
		return OIDCOutput{}, err
	}
	return ensureOIDC(ctx, c, in.Snapshot.Repository.GitHub, *env)
}

func ensureOIDC(ctx context.Context, c iamAPI, repo string, env config.Environment) (OIDCOutput, error) {
	var out OIDCOutput
	providerARN, created, restored, err := ensureProvider(ctx, c)
	if err != nil {
		return out, err
	}
	out.ProviderARN, out.Created, out.Restored = providerARN, created, restored

	trust, err := TrustPolicy(providerARN, repo, env.GitHubRef)
	if err != nil {
		return out, err
	}
	roleARN, created, restored, err := ensureRole(ctx, c, env.GitHubRole, repo, trust)
	if err != nil {
		return out, err
	}
	out.RoleARN, out.Created, out.Restored = roleARN, out.Created || created, append(out.Restored, restored...)

	attached, err := attachPolicies(ctx, c, env.GitHubRole, env.GitHubRolePolicies)
	if err != nil {
		return out, err
	}
	if !out.Created { // a policy missing from a role we just made is no drift
		for _, p := range attached {
			out.Restored = append(out.Restored, "policy "+p)
		}
	}
	return out, nil
}

// ensureProvider makes GitHub's OIDC provider exist with AWS's audience, and reports whether
// it created it and what drift it put back.
func ensureProvider(ctx context.Context, c iamAPI) (arn string, created bool, restored []string, err error) {
	arn, err = findProvider(ctx, c)
	if err != nil {
		return "", false, nil, err
	}
	if arn == "" {
		out, err := c.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
			Url:            aws.String("https://" + githubIssuerHost),
			ClientIDList:   []string{githubAudience},
			ThumbprintList: githubThumbprints,
			Tags:           []iamtypes.Tag{{Key: aws.String("managed-by"), Value: aws.String("idp")}},
		})
		switch {
		case err == nil:
			return aws.ToString(out.OpenIDConnectProviderArn), true, nil, nil
		case !isErr[*iamtypes.EntityAlreadyExistsException](err):
			return "", false, nil, classify(err, "creating OIDC provider for %s", githubIssuerHost)
		}
		// Created between our look and our create (a concurrent run): converge what is there.
		if arn, err = findProvider(ctx, c); err != nil {
			return "", false, nil, err
		}
		if arn == "" {
			return "", false, nil, fmt.Errorf("OIDC provider for %s exists but is not listed yet", githubIssuerHost)
		}
	}
	got, err := c.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: &arn})
	if err != nil {
		return "", false, nil, classify(err, "reading OIDC provider %s", arn)
	}
	if !slices.Contains(got.ClientIDList, githubAudience) {
		if _, err := c.AddClientIDToOpenIDConnectProvider(ctx, &iam.AddClientIDToOpenIDConnectProviderInput{
			OpenIDConnectProviderArn: &arn, ClientID: aws.String(githubAudience)}); err != nil {
			return "", false, nil, classify(err, "adding audience to %s", arn)
		}
		restored = append(restored, "OIDC audience "+githubAudience)
	}
	return arn, false, restored, nil
}

// providerLister lists the account's OIDC providers.
type providerLister interface {
	ListOpenIDConnectProviders(context.Context, *iam.ListOpenIDConnectProvidersInput, ...func(*iam.Options)) (*iam.ListOpenIDConnectProvidersOutput, error)
}

// findProvider returns the ARN of GitHub's OIDC provider, or "" when the account has none.
func findProvider(ctx context.Context, c providerLister) (string, error) {
	list, err := c.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	if err != nil {
		return "", classify(err, "listing OIDC providers")
	}
	for _, p := range list.OpenIDConnectProviderList {
		if arn := aws.ToString(p.Arn); strings.HasSuffix(arn, "oidc-provider/"+githubIssuerHost) {
			return arn, nil
		}
	}
	return "", nil
}

// ensureRole makes the role exist with trust as its trust policy, and reports its ARN,
// whether it created it and what drift it put back.
func ensureRole(ctx context.Context, c iamAPI, name, repo, trust string) (arn string, created bool, restored []string, err error) {
	role, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
	switch {
	case isErr[*iamtypes.NoSuchEntityException](err):
		out, err := c.CreateRole(ctx, &iam.CreateRoleInput{
			RoleName:                 &name,
			AssumeRolePolicyDocument: &trust,
			Description:              aws.String("GitHub Actions of " + repo + " (managed by idp)"),
			Tags:                     []iamtypes.Tag{{Key: aws.String("managed-by"), Value: aws.String("idp")}},
		})
		switch {
		case err == nil:
			if out.Role != nil {
				arn = aws.ToString(out.Role.Arn)
			}
			return arn, true, nil, nil
		case !isErr[*iamtypes.EntityAlreadyExistsException](err):
			return "", false, nil, classify(err, "creating role %s", name)
		}
		// Created between our look and our create (a concurrent run): converge what is there.
		if role, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: &name}); err != nil {
			return "", false, nil, classify(err, "looking up role %s", name)
		}
	case err != nil:
		return "", false, nil, classify(err, "looking up role %s", name)
	}
	arn = aws.ToString(role.Role.Arn)
	same, err := samePolicy(aws.ToString(role.Role.AssumeRolePolicyDocument), trust)
	if err != nil || same {
		return arn, false, nil, err
	}
	if _, err := c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: &name, PolicyDocument: &trust}); err != nil {
		return "", false, nil, classify(err, "restoring trust policy of %s", name)
	}
	return arn, false, []string{"trust policy of " + name}, nil
}

// attachPolicies attaches every policy in want the role lacks, and returns those it attached.
func attachPolicies(ctx context.Context, c iamAPI, role string, want []string) ([]string, error) {
	var have []string
	pages := iam.NewListAttachedRolePoliciesPaginator(c, &iam.ListAttachedRolePoliciesInput{RoleName: &role})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, classify(err, "listing policies of %s", role)
		}
		for _, p := range page.AttachedPolicies {
			have = append(have, aws.ToString(p.PolicyArn))
		}
	}
	var attached []string
	for _, p := range want {
		if slices.Contains(have, p) {
			continue
		}
		_, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: &role, PolicyArn: aws.String(p)})
		if isErr[*iamtypes.NoSuchEntityException](err) {
			return attached, fail.Wrap(fail.Config, err, "policy %s in githubRolePolicies of idp.yaml does not exist", p)
		}
		if err != nil {
			return attached, classify(err, "attaching %s to %s", p, role)
		}
		attached = append(attached, p)
	}
	return attached, nil
}

// TrustPolicy is the GitHub role's trust: tokens from this repository only, and from ref
// only when ref is set.
func TrustPolicy(providerARN, repo, ref string) (string, error) {
	if repo == "" {
		return "", fail.New(fail.Config, "repository.github is empty in idp.yaml: the GitHub role must trust one repository")
	}
	equals := map[string]string{githubIssuerHost + ":aud": githubAudience}
	cond := map[string]any{"StringEquals": equals}
	if ref == "" {
		cond["StringLike"] = map[string]string{githubIssuerHost + ":sub": "repo:" + repo + ":*"}
	} else {
		equals[githubIssuerHost+":sub"] = "repo:" + repo + ":ref:" + ref
	}
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect":    "Allow",
			"Principal": map[string]string{"Federated": providerARN},
			"Action":    "sts:AssumeRoleWithWebIdentity",
			"Condition": cond,
		}},
	}
	b, err := json.Marshal(doc)
	return string(b), err
}

// samePolicy compares two policy documents by meaning; IAM returns them URL-encoded.
func samePolicy(got, want string) (bool, error) {
	if dec, err := url.QueryUnescape(got); err == nil {
		got = dec
	}
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		return false, nil // unreadable means drifted: restore it
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		return false, fmt.Errorf("decoding wanted policy: %w", err)
	}
	return reflect.DeepEqual(g, w), nil
}
