package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// ecrRevokeAPI is the part of ECR that takes a pull grant back.
type ecrRevokeAPI interface {
	ecrPolicyAPI
	DeleteRepositoryPolicy(context.Context, *ecr.DeleteRepositoryPolicyInput, ...func(*ecr.Options)) (*ecr.DeleteRepositoryPolicyOutput, error)
}

// RevokeECRPull takes back what GrantECRPull gave: the env's statement (Sid IdpPull<Env>)
// leaves each tooling repository policy; other statements stay, and a policy left with none
// is deleted. A repository or statement already gone counts as done.
func (a *Activities) RevokeECRPull(ctx context.Context, in GrantInput) (GrantOutput, error) {
	env, err := in.Snapshot.Environment()
	if err != nil {
		return GrantOutput{}, fail.Wrap(fail.Config, err, "activity input")
	}
	tooling := in.Snapshot.Tooling
	cfg, err := awsconf.Load(ctx, tooling.AWS)
	if err != nil {
		return GrantOutput{}, err
	}
	repos := make([]string, 0, len(tooling.Repositories))
	for _, r := range tooling.Repositories {
		repos = append(repos, r)
	}
	sort.Strings(repos)
	return revokePull(ctx, ecr.NewFromConfig(cfg), tooling.AWS.AccountID, repos, env.Name)
}

func revokePull(ctx context.Context, c ecrRevokeAPI, registry string, repos []string, envName string) (GrantOutput, error) {
	out := GrantOutput{Repositories: repos}
	sid := "IdpPull" + sidPart(envName)
	for _, repo := range repos {
		changed, err := revokeRepo(ctx, c, registry, repo, sid)
		if err != nil {
			return out, err
		}
		if changed {
			out.Changed = append(out.Changed, repo)
		}
	}
	return out, nil
}

// revokeRepo removes the statement sid from repo's policy and reports whether it was there.
func revokeRepo(ctx context.Context, c ecrRevokeAPI, registry, repo, sid string) (bool, error) {
	got, err := c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RegistryId: &registry, RepositoryName: aws.String(repo)})
	switch {
	case isErr[*ecrtypes.RepositoryPolicyNotFoundException](err), isErr[*ecrtypes.RepositoryNotFoundException](err):
		return false, nil
	case err != nil:
		return false, classify(err, "reading policy of %s", repo)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(got.PolicyText)), &doc); err != nil {
		return false, fmt.Errorf("decoding policy of %s: %w", repo, err)
	}
	stmts, _ := doc["Statement"].([]any)
	kept := make([]any, 0, len(stmts))
	for _, s := range stmts {
		if m, ok := s.(map[string]any); ok && m["Sid"] == sid {
			continue
		}
		kept = append(kept, s)
	}
	if len(kept) == len(stmts) {
		return false, nil
	}
	if len(kept) == 0 {
		_, err := c.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RegistryId: &registry, RepositoryName: aws.String(repo)})
		if err != nil && !isErr[*ecrtypes.RepositoryPolicyNotFoundException](err) {
			return false, classify(err, "deleting policy of %s", repo)
		}
		return true, nil
	}
	doc["Statement"] = kept
	text, err := json.Marshal(doc)
	if err != nil {
		return false, fmt.Errorf("encoding policy of %s: %w", repo, err)
	}
	if _, err := c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RegistryId: &registry,
		RepositoryName: aws.String(repo), PolicyText: aws.String(string(text))}); err != nil {
		return false, classify(err, "setting policy of %s", repo)
	}
	return true, nil
}

// iamTeardownAPI is the part of IAM that removes the GitHub trust.
type iamTeardownAPI interface {
	ListOpenIDConnectProviders(context.Context, *iam.ListOpenIDConnectProvidersInput, ...func(*iam.Options)) (*iam.ListOpenIDConnectProvidersOutput, error)
	DeleteOpenIDConnectProvider(context.Context, *iam.DeleteOpenIDConnectProviderInput, ...func(*iam.Options)) (*iam.DeleteOpenIDConnectProviderOutput, error)
	ListAttachedRolePolicies(context.Context, *iam.ListAttachedRolePoliciesInput, ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error)
	DetachRolePolicy(context.Context, *iam.DetachRolePolicyInput, ...func(*iam.Options)) (*iam.DetachRolePolicyOutput, error)
	DeleteRole(context.Context, *iam.DeleteRoleInput, ...func(*iam.Options)) (*iam.DeleteRoleOutput, error)
}

// RemoveOIDCInput names the env whose GitHub trust goes; KeepProvider leaves the account's
// OIDC provider to other envs of the account, which may use other roles.
type RemoveOIDCInput struct {
	Snapshot     config.Snapshot `json:"snapshot"`
	KeepProvider bool            `json:"keepProvider,omitempty"`
}

// RemoveOIDCOutput says what RemoveGitHubOIDC removed and what was already gone.
type RemoveOIDCOutput struct {
	Removed     []string `json:"removed,omitempty"`
	AlreadyGone []string `json:"alreadyGone,omitempty"`
}

// RemoveGitHubOIDC deletes the env's GitHub role (its managed policies detached first) and,
// unless told to keep it, GitHub's OIDC provider in the env's account. The workflow calls it
// only when no other env of the account uses the role.
func (a *Activities) RemoveGitHubOIDC(ctx context.Context, in RemoveOIDCInput) (RemoveOIDCOutput, error) {
	env, err := in.Snapshot.Environment()
	if err != nil {
		return RemoveOIDCOutput{}, fail.Wrap(fail.Config, err, "activity input")
	}
	cfg, err := awsconf.Load(ctx, env.AWS)
	if err != nil {
		return RemoveOIDCOutput{}, err
	}
	return removeOIDC(ctx, iam.NewFromConfig(cfg), env.GitHubRole, in.KeepProvider)
}

func removeOIDC(ctx context.Context, c iamTeardownAPI, role string, keepProvider bool) (RemoveOIDCOutput, error) {
	var out RemoveOIDCOutput
	gone, err := deleteRole(ctx, c, role)
	if err != nil {
		return out, err
	}
	if gone {
		out.AlreadyGone = append(out.AlreadyGone, "role "+role)
	} else {
		out.Removed = append(out.Removed, "role "+role)
	}
	if keepProvider {
		return out, nil
	}
	arn, err := findProvider(ctx, c)
	if err != nil {
		return out, err
	}
	if arn == "" {
		out.AlreadyGone = append(out.AlreadyGone, "OIDC provider "+githubIssuerHost)
		return out, nil
	}
	_, err = c.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: &arn})
	if err != nil && !isErr[*iamtypes.NoSuchEntityException](err) {
		return out, classify(err, "deleting OIDC provider %s", arn)
	}
	out.Removed = append(out.Removed, "OIDC provider "+githubIssuerHost)
	return out, nil
}

// deleteRole detaches the role's managed policies and deletes it; gone says it was not there.
func deleteRole(ctx context.Context, c iamTeardownAPI, role string) (gone bool, err error) {
	pages := iam.NewListAttachedRolePoliciesPaginator(c, &iam.ListAttachedRolePoliciesInput{RoleName: &role})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if isErr[*iamtypes.NoSuchEntityException](err) {
			return true, nil
		}
		if err != nil {
			return false, classify(err, "listing policies of %s", role)
		}
		for _, p := range page.AttachedPolicies {
			_, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: &role, PolicyArn: p.PolicyArn})
			if err != nil && !isErr[*iamtypes.NoSuchEntityException](err) {
				return false, classify(err, "detaching %s from %s", aws.ToString(p.PolicyArn), role)
			}
		}
	}
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: &role})
	switch {
	case isErr[*iamtypes.NoSuchEntityException](err):
		return true, nil
	case err != nil:
		return false, classify(err, "deleting role %s", role)
	}
	return false, nil
}
