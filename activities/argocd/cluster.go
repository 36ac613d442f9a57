package argocd

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// clusterKube is the real kube factory: the env's cluster through client-go.
func clusterKube(ctx context.Context, env *config.Environment) (kube, error) {
	rc, err := restConfig(ctx, env)
	if err != nil {
		return nil, err
	}
	k, err := newKube(rc)
	if err != nil {
		return nil, fmt.Errorf("building the Kubernetes client for %s: %w", env.Name, err)
	}
	return k, nil
}

// restConfig reaches the env's cluster: through its kubeconfig when idp.yaml names one (the
// sandbox), else through EKS with an IAM token for the env's AWS identity.
func restConfig(ctx context.Context, env *config.Environment) (*rest.Config, error) {
	if env.ArgoCD.Kubeconfig != "" {
		rc, err := clientcmd.BuildConfigFromFlags("", env.ArgoCD.Kubeconfig)
		if err != nil {
			return nil, fail.Wrap(fail.Config, err, "loading kubeconfig %s for %s", env.ArgoCD.Kubeconfig, env.Name)
		}
		return rc, nil
	}
	awsCfg, err := awsconf.Load(ctx, env.AWS)
	if err != nil {
		return nil, err
	}
	out, err := eks.NewFromConfig(awsCfg).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: &env.ClusterName})
	if err != nil {
		return nil, classifyAWS(err, "describing EKS cluster %s in account %s", env.ClusterName, env.AWS.AccountID)
	}
	ca, err := base64.StdEncoding.DecodeString(awssdk.ToString(out.Cluster.CertificateAuthority.Data))
	if err != nil {
		return nil, fmt.Errorf("decoding the CA of %s: %w", env.ClusterName, err)
	}
	token, err := EKSToken(ctx, sts.NewFromConfig(awsCfg), env.ClusterName)
	if err != nil {
		return nil, err
	}
	return &rest.Config{Host: awssdk.ToString(out.Cluster.Endpoint), BearerToken: token,
		TLSClientConfig: rest.TLSClientConfig{CAData: ca}}, nil
}

// EKSToken returns a bearer token for an EKS cluster: a presigned STS GetCallerIdentity
// request bound to the cluster's name, as aws-iam-authenticator makes it. It is valid for
// about 15 minutes and never leaves the activity.
func EKSToken(ctx context.Context, c *sts.Client, cluster string) (string, error) {
	req, err := sts.NewPresignClient(c).PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(o *sts.PresignOptions) {
		o.ClientOptions = append(o.ClientOptions, sts.WithAPIOptions(
			smithyhttp.AddHeaderValue("x-k8s-aws-id", cluster),
			smithyhttp.AddHeaderValue("X-Amz-Expires", "60"),
		))
	})
	if err != nil {
		return "", fmt.Errorf("presigning the EKS token for %s: %w", cluster, err)
	}
	return "k8s-aws-v1." + strings.TrimRight(base64.RawURLEncoding.EncodeToString([]byte(req.URL)), "="), nil
}

// classifyAWS turns the AWS errors a person must fix into non-retryable ones, by their SDK
// types and error codes: what idp.yaml names does not exist, or the identity may not read it.
// Anything else (throttling, the network) stays retryable.
func classifyAWS(err error, format string, args ...any) error {
	var (
		smNotFound  *smtypes.ResourceNotFoundException
		smInvalid   *smtypes.InvalidRequestException
		smDecrypt   *smtypes.DecryptionFailure
		ssmNotFound *ssmtypes.ParameterNotFound
		ssmBadKey   *ssmtypes.InvalidKeyId
		eksNotFound *ekstypes.ResourceNotFoundException
		api         smithy.APIError
	)
	switch {
	case errors.As(err, &smNotFound), errors.As(err, &ssmNotFound), errors.As(err, &eksNotFound),
		errors.As(err, &smInvalid): // a secret scheduled for deletion
		return fail.Wrap(fail.Config, err, format, args...)
	case errors.As(err, &smDecrypt), errors.As(err, &ssmBadKey):
		return fail.Wrap(fail.AccessDenied, err, format, args...)
	case errors.As(err, &api) && deniedCodes[api.ErrorCode()]:
		return fail.Wrap(fail.AccessDenied, err, format, args...)
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// deniedCodes are the AWS error codes of an identity that may not do what it asked.
var deniedCodes = map[string]bool{
	"AccessDenied": true, "AccessDeniedException": true, "UnrecognizedClientException": true,
	"InvalidClientTokenId": true, "ExpiredToken": true,
}
