package argocd

import (
	"context"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// repoSecretName is the Argo CD repository Secret idp manages.
const repoSecretName = "idp-platform-repository"

// secretsManagerAPI is what reading the repository token needs of Secrets Manager.
type secretsManagerAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// ssmAPI is what reading the repository token needs of SSM Parameter Store.
type ssmAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// secretReaders are the two places idp.yaml may keep the repository token, in one account.
type secretReaders struct {
	secrets secretsManagerAPI
	params  ssmAPI
}

// awsSecretReaders is the real secretReaders factory: SDK clients for the env's account.
func awsSecretReaders(ctx context.Context, acct config.AWS) (secretReaders, error) {
	cfg, err := awsconf.Load(ctx, acct)
	if err != nil {
		return secretReaders{}, err
	}
	return secretReaders{secrets: secretsmanager.NewFromConfig(cfg), params: ssm.NewFromConfig(cfg)}, nil
}

// repoCredentials returns Argo CD's repository Secret for the platform repository, with the
// token read from AWS Secrets Manager or SSM in the env's account, or nil when idp.yaml names
// no credentials (a public or local repository). The token goes from AWS straight into the
// cluster: never into workflow inputs, results or logs.
func (a *Activities) repoCredentials(ctx context.Context, env *config.Environment, repoURL string) (*unstructured.Unstructured, error) {
	rc := env.ArgoCD.RepoCredentials
	if rc == nil {
		return nil, nil
	}
	r, err := a.secretsFor(ctx, env.AWS)
	if err != nil {
		return nil, err
	}
	token, err := readToken(ctx, r, rc, env.AWS.AccountID)
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": repoSecretName, "namespace": env.ArgoCD.Namespace,
			"labels": map[string]any{"argocd.argoproj.io/secret-type": "repository"}},
		"stringData": map[string]any{"type": "git", "url": repoURL, "username": "x-access-token", "password": token},
	}}, nil
}

// readToken reads the token from where rc names it, trimmed; a missing, unreadable or empty
// token is the user's to fix, a throttled or failed request is retried.
func readToken(ctx context.Context, r secretReaders, rc *config.RepoCredentials, account string) (string, error) {
	var token, where string
	if rc.SecretsManager != "" {
		where = "Secrets Manager secret " + rc.SecretsManager
		out, err := r.secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &rc.SecretsManager})
		if err != nil {
			return "", classifyAWS(err, "reading the repository token from the %s in account %s", where, account)
		}
		token = awssdk.ToString(out.SecretString)
	} else {
		where = "SSM parameter " + rc.SSMParameter
		out, err := r.params.GetParameter(ctx, &ssm.GetParameterInput{Name: &rc.SSMParameter, WithDecryption: awssdk.Bool(true)})
		if err != nil {
			return "", classifyAWS(err, "reading the repository token from the %s in account %s", where, account)
		}
		if out.Parameter != nil {
			token = awssdk.ToString(out.Parameter.Value)
		}
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", fail.New(fail.Config, "the %s holds no repository token (empty, or a binary secret)", where)
	}
	return token, nil
}
