package aws

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/alexpermiakov/idp/internal/fail"
)

// OIDCDriftOutput says how the GitHub OIDC trust differs from what EnsureGitHubOIDC writes,
// one short description per difference, never a policy's content.
type OIDCDriftOutput struct {
	Drift []string `json:"drift"`
}

// CheckGitHubOIDC compares GitHub's OIDC provider and the env's GitHub role with what
// EnsureGitHubOIDC would write (the audience, the trust policy, the attached policies) and
// reports each difference. It only reads: putting things back is bootstrap's job.
func (a *Activities) CheckGitHubOIDC(ctx context.Context, in OIDCInput) (OIDCDriftOutput, error) {
	env, err := in.Snapshot.Environment()
	if err != nil {
		return OIDCDriftOutput{}, fail.Wrap(fail.Config, err, "activity input")
	}
	c, err := a.sdk().iamClient(ctx, env.AWS)
	if err != nil {
		return OIDCDriftOutput{}, err
	}
	drift, err := checkOIDC(ctx, c, in.Snapshot.Repository.GitHub, env.GitHubRole, env.GitHubRef, env.GitHubRolePolicies)
	return OIDCDriftOutput{Drift: drift}, err
}

func checkOIDC(ctx context.Context, c iamAPI, repo, role, ref string, policies []string) ([]string, error) {
	drift := []string{}
	arn, err := findProvider(ctx, c)
	if err != nil {
		return nil, err
	}
	if arn == "" {
		drift = append(drift, "OIDC provider "+githubIssuerHost+" is missing")
	} else {
		got, err := c.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: &arn})
		if err != nil {
			return nil, classify(err, "reading OIDC provider %s", arn)
		}
		if !slices.Contains(got.ClientIDList, githubAudience) {
			drift = append(drift, "OIDC provider "+githubIssuerHost+" lacks the audience "+githubAudience)
		}
	}

	got, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: &role})
	if isErr[*iamtypes.NoSuchEntityException](err) {
		return append(drift, "role "+role+" is missing"), nil
	}
	if err != nil {
		return nil, classify(err, "looking up role %s", role)
	}
	if arn == "" { // the trust names the provider; without one, compare with the one bootstrap creates
		arn = "arn:aws:iam::" + accountOf(aws.ToString(got.Role.Arn)) + ":oidc-provider/" + githubIssuerHost
	}
	trust, err := TrustPolicy(arn, repo, ref)
	if err != nil {
		return nil, err
	}
	same, err := samePolicy(aws.ToString(got.Role.AssumeRolePolicyDocument), trust)
	if err != nil {
		return nil, err
	}
	if !same {
		drift = append(drift, "trust policy of role "+role+" differs from the one bootstrap writes")
	}

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
	for _, p := range policies {
		if !slices.Contains(have, p) {
			drift = append(drift, "policy "+p+" is not attached to role "+role)
		}
	}
	return drift, nil
}

// accountOf is the account ID in an IAM ARN (arn:aws:iam::ACCOUNT:...).
func accountOf(arn string) string {
	if parts := strings.SplitN(arn, ":", 6); len(parts) == 6 {
		return parts[4]
	}
	return ""
}
