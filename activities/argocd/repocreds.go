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

// repoCredentials returns Argo CD's repository Secret for the platform repository, with the
// token read from AWS Secrets Manager or SSM in the env's account, or nil when idp.yaml names
// no credentials (a public or local repository). The token goes from AWS straight into the
// cluster: never into workflow inputs, results or logs.
func repoCredentials(ctx context.Context, env *config.Environment, repoURL string) (*unstructured.Unstructured, error) {
	rc := env.ArgoCD.RepoCredentials
	if rc == nil {
		return nil, nil
	}
	cfg, err := awsconf.Load(ctx, env.AWS)
	if err != nil {
		return nil, err
	}
	var token string
	switch {
	case rc.SecretsManager != "":
		out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &rc.SecretsManager})
		if err != nil {
			return nil, fail.Wrap(fail.Config, err, "reading the repository token from Secrets Manager (%s)", rc.SecretsManager)
		}
		token = awssdk.ToString(out.SecretString)
	default:
		out, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: &rc.SSMParameter, WithDecryption: awssdk.Bool(true)})
		if err != nil {
			return nil, fail.Wrap(fail.Config, err, "reading the repository token from SSM (%s)", rc.SSMParameter)
		}
		token = awssdk.ToString(out.Parameter.Value)
	}
	if strings.TrimSpace(token) == "" {
		return nil, fail.New(fail.Config, "the repository token in %s%s is empty", rc.SecretsManager, rc.SSMParameter)
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": repoSecretName, "namespace": env.ArgoCD.Namespace,
			"labels": map[string]any{"argocd.argoproj.io/secret-type": "repository"}},
		"stringData": map[string]any{"type": "git", "url": repoURL, "username": "x-access-token", "password": strings.TrimSpace(token)},
	}}, nil
}
