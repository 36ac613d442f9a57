package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCheckedInConfigDescribesThePlatform(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "idp.yaml"))
	require.NoError(t, err)
	require.Equal(t, []string{"dev", "staging", "prod"}, c.EnvNames())
	require.Equal(t, "864992049050", c.Tooling.AWS.AccountID)
	want := map[string]string{"dev": "935743309409", "staging": "470879558261", "prod": "316762121478"}
	for _, e := range c.Environments {
		require.Equal(t, want[e.Name], e.AWS.AccountID)
		require.Equal(t, "us-west-2", e.AWS.Region)
		require.Equal(t, "terraform-state-alexidp-"+e.Name, e.StateBucket)
		require.Equal(t, "GitHubActionsRole", e.GitHubRole)
		require.Equal(t, e.Name != "dev", e.Bootstrap.PlanApproval.Required, "staging and prod approve plans")
	}
	prod, err := c.Env("prod")
	require.NoError(t, err)
	require.True(t, prod.Promotion.Approval.Required)
	require.True(t, prod.Promotion.Approval.FourEyes)
	require.Equal(t, "refs/heads/main", prod.GitHubRef)
	for _, e := range c.Environments[1:] {
		require.True(t, e.Bootstrap.PlanApproval.RequireSignatures, "%s plan approvals are signed", e.Name)
	}
	require.True(t, prod.Promotion.Approval.RequireSignatures)
	require.Equal(t, []string{"alice", "bob", "carol"}, c.Approvers(prod.Promotion.Approval.Approvers))
	for _, who := range []string{"alice", "bob", "carol"} {
		require.Len(t, c.Keys(who), 1, who)
	}
	require.Equal(t, "github.com/alexpermiakov/idp", strings.TrimSuffix(strings.TrimPrefix(c.Repository.URL, "https://"), ".git"))
}

const minimal = `
repository: {url: https://example.com/r.git, github: o/r}
tooling:
  aws: {accountId: "123456789013", region: us-west-2}
  repositories: {svc: idp/svc}
environments:
  - name: dev
    aws: {accountId: "123456789013"}
    stateBucket: state-dev
`

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal))
	require.NoError(t, err)
	e := c.Environments[0]
	require.Equal(t, "us-west-2", e.AWS.Region, "region defaults to the tooling account's")
	require.Equal(t, "main", c.Repository.Branch)
	require.Equal(t, "idp-dev", e.ClusterName)
	require.Equal(t, "dev-apps", e.ArgoCD.AppOfApps)
	require.Equal(t, 1, e.Bootstrap.PlanApproval.MinApprovals)
	require.Equal(t, 24*time.Hour, e.Bootstrap.PlanApproval.Expiry.Std())
	require.Equal(t, []string{"arn:aws:iam::aws:policy/AdministratorAccess"}, e.GitHubRolePolicies)
	require.True(t, c.Tooling.GrantPullEnabled())
}

func TestValidationReportsEveryProblemWithItsPath(t *testing.T) {
	bad := `
repository: {url: "", provider: svn}
tooling:
  aws: {accountId: "12", region: mars}
environments:
  - name: Dev
    aws: {accountId: "123456789013", region: us-west-2, endpoint: "localhost:4566"}
    stateBucket: B
    promotion:
      entryPattern: "("
      requirePassed: prod
      approval: {required: true, approvers: [bob], minApprovals: 2}
  - name: Dev
    aws: {accountId: "123456789013", region: us-west-2}
    stateBucket: ok-bucket
`
	_, err := Parse([]byte(bad))
	require.Error(t, err)
	for _, want := range []string{
		"repository.url: is required",
		`repository.provider: must be "git" or "github", got "svn"`,
		"repository.github: is required",
		`tooling.aws.accountId: must be 12 digits, got "12"`,
		`tooling.aws.region: must be an AWS region like us-west-2, got "mars"`,
		"tooling.repositories: needs at least one",
		`environments[0](Dev).name: must be a DNS label`,
		`environments[0](Dev).aws.endpoint: must be an http(s) URL`,
		`environments[0](Dev).stateBucket: must be a valid S3 bucket name, got "B"`,
		"environments[0](Dev).promotion.entryPattern: is not a valid regular expression",
		`environments[0](Dev).promotion.requirePassed: must name an earlier environment, got "prod"`,
		`environments[0](Dev).promotion.approval.approvers[0]: "bob" is not under people:`,
		"environments[0](Dev).promotion.approval.approvers: leaves 1 possible approvers but minApprovals is 2: the gate could never open",
		"environments[1](Dev).name: duplicates environments[0]",
	} {
		require.ErrorContains(t, err, want)
	}
}

func TestUnknownFieldsAndBadDurations(t *testing.T) {
	_, err := Parse([]byte(minimal + "    clustr: typo\n"))
	require.ErrorContains(t, err, "field clustr not found")
	_, err = Parse([]byte(strings.Replace(minimal, "stateBucket: state-dev", "stateBucket: state-dev\n    promotion: {soak: 5 minutes}", 1)))
	require.ErrorContains(t, err, `invalid duration "5 minutes"`)
}

func TestUnknownEnvironmentNamesTheKnownOnes(t *testing.T) {
	c, err := Parse([]byte(minimal))
	require.NoError(t, err)
	_, err = c.Env("qa")
	require.EqualError(t, err, `unknown environment "qa" (idp.yaml defines: dev)`)
}

func TestPath(t *testing.T) {
	t.Setenv("IDP_CONFIG", "/etc/idp.yaml")
	require.Equal(t, "x.yaml", Path("x.yaml"))
	require.Equal(t, "/etc/idp.yaml", Path(""))
	os.Unsetenv("IDP_CONFIG")
	require.Equal(t, "idp.yaml", Path(""))
}
