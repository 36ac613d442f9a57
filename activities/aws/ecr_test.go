package aws

import (
	"context"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// ciStatement is a statement someone else owns; granted is a policy that already grants prod,
// with its actions in another order than GrantECRPull writes them.
const (
	ciStatement = `{"Sid":"CI","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::864992049050:role/ci"},"Action":"ecr:PutImage"}`
	granted     = `{"Version":"2012-10-17","Statement":[` + ciStatement + `,{"Sid":"IdpPullProd","Effect":"Allow",` +
		`"Principal":{"AWS":"arn:aws:iam::316762121478:root"},` +
		`"Action":["ecr:GetDownloadUrlForLayer","ecr:BatchGetImage","ecr:BatchCheckLayerAvailability"]}]}`
)

// grantCase is one GrantECRPull scenario: setup shapes the fake and the snapshot, writes are
// the ECR writes the activity must make, check judges what it returned.
type grantCase struct {
	name   string
	setup  func(*memECR, *config.Snapshot)
	writes []string
	check  func(t *testing.T, f *memECR, out GrantOutput, err error)
}

var grantCases = []grantCase{{
	name:   "repositories without a policy get one",
	writes: []string{"SetRepositoryPolicy idp/localtime", "SetRepositoryPolicy idp/version"},
	check: func(t *testing.T, f *memECR, out GrantOutput, err error) {
		require.NoError(t, err)
		require.Equal(t, GrantOutput{Repositories: []string{"idp/localtime", "idp/version"},
			Changed: []string{"idp/localtime", "idp/version"}}, out)
		s := statements(t, f.repos["idp/localtime"].policy)["IdpPullProd"]
		require.Equal(t, map[string]any{"AWS": "arn:aws:iam::316762121478:root"}, s["Principal"])
	},
}, {
	name: "granted repositories are left alone, whatever the order of actions",
	setup: func(f *memECR, _ *config.Snapshot) {
		f.repos["idp/localtime"].policy, f.repos["idp/version"].policy = granted, granted
	},
	check: func(t *testing.T, _ *memECR, out GrantOutput, err error) {
		require.NoError(t, err)
		require.Empty(t, out.Changed)
	},
}, {
	name: "a statement edited by hand is restored and others are kept",
	setup: func(f *memECR, _ *config.Snapshot) {
		f.repos["idp/localtime"].policy = granted
		f.repos["idp/version"].policy = `{"Version":"2012-10-17","Statement":[` + ciStatement +
			`,{"Sid":"IdpPullProd","Effect":"Allow","Principal":"*","Action":"ecr:*"}]}`
	},
	writes: []string{"SetRepositoryPolicy idp/version"},
	check: func(t *testing.T, f *memECR, out GrantOutput, err error) {
		require.NoError(t, err)
		require.Equal(t, []string{"idp/version"}, out.Changed)
		s := statements(t, f.repos["idp/version"].policy)
		require.Contains(t, s, "CI")
		require.Equal(t, map[string]any{"AWS": "arn:aws:iam::316762121478:root"}, s["IdpPullProd"]["Principal"])
	},
}, {
	name: "a repository that does not exist is not found",
	setup: func(f *memECR, _ *config.Snapshot) {
		delete(f.repos, "idp/version")
	},
	writes: []string{"SetRepositoryPolicy idp/localtime"},
	check: func(t *testing.T, _ *memECR, _ GrantOutput, err error) {
		requireFail(t, err, fail.NotFound, "ECR repository idp/version", "does not exist")
	},
}, {
	name: "access denied is a non-retryable failure with AWS's message",
	setup: func(f *memECR, _ *config.Snapshot) {
		f.errs = map[string]error{"SetRepositoryPolicy": apiErr("SetRepositoryPolicy", "AccessDeniedException",
			"User: arn:aws:sts::864992049050:assumed-role/idp is not authorized to perform: ecr:SetRepositoryPolicy")}
	},
	check: func(t *testing.T, _ *memECR, _ GrantOutput, err error) {
		requireFail(t, err, fail.AccessDenied, "setting policy of idp/localtime", "not authorized to perform: ecr:SetRepositoryPolicy")
	},
}, {
	name: "an ECR failure retries",
	setup: func(f *memECR, _ *config.Snapshot) {
		f.errs = map[string]error{"GetRepositoryPolicy": opErr("GetRepositoryPolicy", &ecrtypes.ServerException{Message: awssdk.String("internal")})}
	},
	check: func(t *testing.T, _ *memECR, _ GrantOutput, err error) {
		requireRetryable(t, err)
	},
}, {
	name:  "an empty snapshot is a config error",
	setup: func(_ *memECR, s *config.Snapshot) { *s = config.Snapshot{} },
	check: func(t *testing.T, _ *memECR, _ GrantOutput, err error) {
		requireFail(t, err, fail.Config, "no environment snapshot")
	},
}}

func TestGrantECRPullAgainstFakes(t *testing.T) {
	for _, tt := range grantCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &memECR{repos: map[string]*memRepo{"idp/localtime": {}, "idp/version": {}}}
			snap := prodSnapshot()
			if tt.setup != nil {
				tt.setup(f, &snap)
			}
			c := &fakeClients{ecr: f}
			out, err := (&Activities{clients: c}).GrantECRPull(context.Background(), GrantInput{Snapshot: snap})
			tt.check(t, f, out, err)
			require.Equal(t, tt.writes, f.writes)
			if snap.Env.Name != "" {
				require.Equal(t, []string{toolingAccount}, c.accounts, "clients for the tooling account")
			}
		})
	}
}

func TestSidPart(t *testing.T) {
	for env, want := range map[string]string{"dev": "Dev", "prod": "Prod", "eu-staging": "EuStaging", "qa_2": "Qa2"} {
		require.Equal(t, want, sidPart(env), env)
	}
}
