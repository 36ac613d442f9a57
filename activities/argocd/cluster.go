// Package argocd owns idp's access to each environment's Argo CD through the Kubernetes API:
// installing it with its settings and the env's app-of-apps, and waiting until Argo CD and
// every Application are Synced and Healthy.
package argocd

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/checkout"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// Activities hold the worker's configuration.
type Activities struct {
	Config *config.Config
	// Repo is the platform repository, read for the env's app-of-apps.
	Repo checkout.Repo
	// Digests resolves image tags to digests in the tooling registry (the Passed check).
	Digests DigestResolver
	// HTTPClient fetches install manifests from URLs; nil means http.DefaultClient.
	HTTPClient *http.Client
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
		return nil, fmt.Errorf("describing EKS cluster %s: %w", env.ClusterName, err)
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

// backoff yields growing waits for polling, capped at max.
type backoff struct {
	next, max time.Duration
}

func (b *backoff) wait(ctx context.Context) error {
	t := time.NewTimer(b.next)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	if b.next *= 2; b.next > b.max {
		b.next = b.max
	}
	return nil
}

// DigestResolver resolves a tag of a tooling repository to its image digest.
type DigestResolver interface {
	Digest(ctx context.Context, repo, tag string) (string, error)
}
