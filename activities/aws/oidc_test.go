package aws

import (
	"context"
	"net/url"
	"testing"

	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// The GitHub trust of prodSnapshot's env.
const (
	role        = "GitHubActionsRole"
	providerARN = "arn:aws:iam::" + prodAccount + ":oidc-provider/" + githubIssuerHost
	roleARN     = "arn:aws:iam::" + prodAccount + ":role/" + role
)

var trust = mustTrust(providerARN, "refs/heads/main")

func mustTrust(provider, ref string) string {
	doc, err := TrustPolicy(provider, "alexpermiakov/idp", ref)
	if err != nil {
		panic(err)
	}
	return doc
}

// converged makes f an account a previous run set up.
func converged(f *memIAM) {
	f.providers[providerARN] = []string{githubAudience}
	f.roles[role] = trust
	f.attached[role] = []string{adminPolicy, readPolicy}
}

// oidcCase is one EnsureGitHubOIDC scenario: setup shapes the fake and the snapshot, writes
// are the IAM writes the activity must make, check judges what it returned.
type oidcCase struct {
	name   string
	setup  func(*memIAM, *config.Snapshot)
	writes []string
	check  func(t *testing.T, f *memIAM, out OIDCOutput, err error)
}

var oidcCases = []oidcCase{{
	name:   "a fresh account gets the provider, the role and its policies",
	writes: []string{"CreateOpenIDConnectProvider", "CreateRole", "AttachRolePolicy", "AttachRolePolicy"},
	check: func(t *testing.T, f *memIAM, out OIDCOutput, err error) {
		require.NoError(t, err)
		require.Equal(t, OIDCOutput{ProviderARN: providerARN, RoleARN: roleARN, Created: true}, out)
		same, err := samePolicy(f.roles[role], trust)
		require.NoError(t, err)
		require.True(t, same)
		require.Equal(t, []string{adminPolicy, readPolicy}, f.attached[role])
	},
}, {
	name:  "a converged account is left alone",
	setup: func(f *memIAM, _ *config.Snapshot) { converged(f) },
	check: func(t *testing.T, _ *memIAM, out OIDCOutput, err error) {
		require.NoError(t, err)
		require.Equal(t, OIDCOutput{ProviderARN: providerARN, RoleARN: roleARN}, out)
	},
}, {
	name: "a trust widened by hand is restored",
	setup: func(f *memIAM, _ *config.Snapshot) {
		converged(f)
		f.roles[role] = mustTrust(providerARN, "")
	},
	writes: []string{"UpdateAssumeRolePolicy"},
	check: func(t *testing.T, f *memIAM, out OIDCOutput, err error) {
		require.NoError(t, err)
		require.Equal(t, []string{"trust policy of " + role}, out.Restored)
		require.Equal(t, trust, f.roles[role])
	},
}, {
	name: "a lost audience and a detached policy are restored",
	setup: func(f *memIAM, _ *config.Snapshot) {
		converged(f)
		f.providers[providerARN] = []string{"someone-else"}
		f.attached[role] = []string{readPolicy}
	},
	writes: []string{"AddClientIDToOpenIDConnectProvider", "AttachRolePolicy"},
	check: func(t *testing.T, _ *memIAM, out OIDCOutput, err error) {
		require.NoError(t, err)
		require.False(t, out.Created)
		require.Equal(t, []string{"OIDC audience " + githubAudience, "policy " + adminPolicy}, out.Restored)
	},
}, {
	name: "a provider and a role another run created meanwhile are converged, not duplicated",
	setup: func(f *memIAM, _ *config.Snapshot) {
		converged(f)
		f.listMisses, f.getMisses = 1, 1
	},
	check: func(t *testing.T, f *memIAM, out OIDCOutput, err error) {
		require.NoError(t, err)
		require.Equal(t, OIDCOutput{ProviderARN: providerARN, RoleARN: roleARN}, out)
		require.Len(t, f.providers, 1)
	},
}, {
	name: "access denied is a non-retryable failure with AWS's message",
	setup: func(f *memIAM, _ *config.Snapshot) {
		f.errs = map[string]error{"ListOpenIDConnectProviders": apiErr("ListOpenIDConnectProviders", "AccessDenied",
			"User: arn:aws:sts::316762121478:assumed-role/idp is not authorized to perform: iam:ListOpenIDConnectProviders")}
	},
	check: func(t *testing.T, _ *memIAM, _ OIDCOutput, err error) {
		requireFail(t, err, fail.AccessDenied, "listing OIDC providers", "not authorized to perform: iam:ListOpenIDConnectProviders")
	},
}, {
	name: "an IAM failure retries",
	setup: func(f *memIAM, _ *config.Snapshot) {
		f.errs = map[string]error{"GetRole": opErr("GetRole", &iamtypes.ServiceFailureException{})}
	},
	writes: []string{"CreateOpenIDConnectProvider"},
	check: func(t *testing.T, _ *memIAM, _ OIDCOutput, err error) {
		requireRetryable(t, err)
		require.ErrorContains(t, err, "looking up role "+role)
	},
}, {
	name: "a policy that does not exist is a config error",
	setup: func(f *memIAM, s *config.Snapshot) {
		converged(f)
		s.Env.GitHubRolePolicies = append(s.Env.GitHubRolePolicies, "arn:aws:iam::aws:policy/Typo")
	},
	check: func(t *testing.T, _ *memIAM, _ OIDCOutput, err error) {
		requireFail(t, err, fail.Config, "arn:aws:iam::aws:policy/Typo in githubRolePolicies")
	},
}, {
	name: "a snapshot without repository.github is a config error",
	setup: func(f *memIAM, s *config.Snapshot) {
		converged(f)
		s.Repository.GitHub = ""
	},
	check: func(t *testing.T, _ *memIAM, _ OIDCOutput, err error) {
		requireFail(t, err, fail.Config, "repository.github is empty")
	},
}, {
	name:  "an empty snapshot is a config error",
	setup: func(_ *memIAM, s *config.Snapshot) { *s = config.Snapshot{} },
	check: func(t *testing.T, _ *memIAM, _ OIDCOutput, err error) {
		requireFail(t, err, fail.Config, "no environment snapshot")
	},
}}

func TestEnsureGitHubOIDC(t *testing.T) {
	for _, tt := range oidcCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &memIAM{account: prodAccount, providers: map[string][]string{}, roles: map[string]string{},
				attached: map[string][]string{}, managed: []string{adminPolicy, readPolicy}}
			snap := prodSnapshot()
			if tt.setup != nil {
				tt.setup(f, &snap)
			}
			c := &fakeClients{iam: f}
			out, err := (&Activities{clients: c}).EnsureGitHubOIDC(context.Background(), OIDCInput{Snapshot: snap})
			tt.check(t, f, out, err)
			require.Equal(t, tt.writes, f.writes)
			if snap.Env.Name != "" {
				require.Equal(t, []string{prodAccount}, c.accounts, "clients for the env's account")
			}
		})
	}
}

func TestSamePolicy(t *testing.T) {
	want := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRoleWithWebIdentity"}]}`
	tests := []struct {
		name, got string
		same      bool
	}{
		{"identical", want, true},
		{"URL-encoded, as IAM returns it", url.QueryEscape(want), true},
		{"reordered keys", `{"Statement":[{"Action":"sts:AssumeRoleWithWebIdentity","Effect":"Allow"}],"Version":"2012-10-17"}`, true},
		{"different action", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`, false},
		{"unreadable is drift", `{not json`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			same, err := samePolicy(tt.got, want)
			require.NoError(t, err)
			require.Equal(t, tt.same, same)
		})
	}
}
