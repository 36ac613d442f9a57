package aws

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckGitHubOIDC(t *testing.T) {
	handTrust := mustTrust(providerARN, "") // every ref, where prod trusts only main
	tests := []struct {
		name  string
		setup func(*memIAM)
		want  []string
	}{
		{name: "what bootstrap wrote is no drift", setup: converged, want: []string{}},
		{name: "a hand-edited trust policy", setup: func(f *memIAM) { converged(f); f.roles[role] = handTrust },
			want: []string{"trust policy of role GitHubActionsRole differs from the one bootstrap writes"}},
		{name: "a lost audience and a detached policy", setup: func(f *memIAM) {
			converged(f)
			f.providers[providerARN] = []string{"other"}
			f.attached[role] = []string{adminPolicy}
		}, want: []string{"OIDC provider token.actions.githubusercontent.com lacks the audience sts.amazonaws.com",
			"policy " + readPolicy + " is not attached to role GitHubActionsRole"}},
		{name: "nothing there", setup: func(*memIAM) {},
			want: []string{"OIDC provider token.actions.githubusercontent.com is missing", "role GitHubActionsRole is missing"}},
		{name: "the provider gone, the role as bootstrap wrote it", setup: func(f *memIAM) { converged(f); delete(f.providers, providerARN) },
			want: []string{"OIDC provider token.actions.githubusercontent.com is missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &memIAM{account: prodAccount, providers: map[string][]string{}, roles: map[string]string{},
				attached: map[string][]string{}, managed: []string{adminPolicy, readPolicy}}
			tt.setup(f)
			out, err := (&Activities{clients: &fakeClients{iam: f}}).CheckGitHubOIDC(context.Background(), OIDCInput{Snapshot: prodSnapshot()})
			require.NoError(t, err)
			require.Equal(t, tt.want, out.Drift)
			require.Empty(t, f.writes, "a check writes nothing")
			for _, d := range out.Drift {
				require.NotContains(t, d, "Statement", "no policy content in the report")
			}
		})
	}
}
