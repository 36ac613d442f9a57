package argocd

import (
	"context"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/sivchari/kumo"
	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// TestRepoCredentialsFromAWS reads the token through the real SDK clients, from an AWS
// emulator, and checks that its not-found answer is typed as the SDK types it.
func TestRepoCredentialsFromAWS(t *testing.T) {
	srv := kumo.NewServer()
	defer srv.Close()
	ctx := context.Background()
	env := &config.Environment{Name: "prod", AWS: config.AWS{AccountID: "316762121478", Region: "us-west-2", Endpoint: srv.URL},
		ArgoCD: config.ArgoCD{Namespace: "argocd"}}
	cfg, err := awsconf.Load(ctx, env.AWS)
	require.NoError(t, err)
	_, err = secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: awssdk.String("idp/git"), SecretString: awssdk.String("ghs_secret\n")})
	require.NoError(t, err)
	_, err = ssm.NewFromConfig(cfg).PutParameter(ctx, &ssm.PutParameterInput{Name: awssdk.String("/idp/git"), Value: awssdk.String("ghs_param"), Type: ssmtypes.ParameterTypeSecureString})
	require.NoError(t, err)

	a := New(Deps{}) // the real secret readers, against the emulator
	none, err := a.repoCredentials(ctx, env, "https://github.com/alexpermiakov/idp.git")
	require.NoError(t, err)
	require.Nil(t, none, "no credentials configured: a public or local repository")

	env.ArgoCD.RepoCredentials = &config.RepoCredentials{SecretsManager: "idp/git"}
	s, err := a.repoCredentials(ctx, env, "https://github.com/alexpermiakov/idp.git")
	require.NoError(t, err)
	require.Equal(t, "repository", s.GetLabels()["argocd.argoproj.io/secret-type"])
	data := s.Object["stringData"].(map[string]any)
	require.Equal(t, "ghs_secret", data["password"])
	require.Equal(t, "https://github.com/alexpermiakov/idp.git", data["url"])

	env.ArgoCD.RepoCredentials = &config.RepoCredentials{SSMParameter: "/idp/git"}
	s, err = a.repoCredentials(ctx, env, "https://github.com/alexpermiakov/idp.git")
	require.NoError(t, err)
	require.Equal(t, "ghs_param", s.Object["stringData"].(map[string]any)["password"])

	env.ArgoCD.RepoCredentials = &config.RepoCredentials{SecretsManager: "idp/missing"}
	_, err = a.repoCredentials(ctx, env, "https://github.com/alexpermiakov/idp.git")
	require.True(t, fail.Is(err, fail.Config), "a missing secret is the user's to fix: %v", err)
}
