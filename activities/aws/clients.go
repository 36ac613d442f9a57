// Package aws owns idp's calls into AWS accounts: the Terraform state backend, the GitHub
// OIDC trust, and cross-account ECR pull access. The same code talks to AWS or to an
// emulator; only the account's endpoint in idp.yaml differs.
package aws

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/alexpermiakov/idp/internal/config"
)

// Activities hold the worker's configuration; clients are built per call for the account
// the activity works in.
type Activities struct {
	Config *config.Config
}

// LoadConfig returns SDK configuration for one account: its region, its endpoint override,
// and the role to assume when idp.yaml names one. Against an endpoint override (an
// emulator) it uses static dummy credentials, so real credentials never leave for it.
func LoadConfig(ctx context.Context, acct config.AWS) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(acct.Region)}
	if acct.Endpoint != "" {
		opts = append(opts,
			awsconfig.WithBaseEndpoint(acct.Endpoint),
			awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("idp-emulator", "idp-emulator", "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration for account %s: %w", acct.AccountID, err)
	}
	if acct.AssumeRole != "" {
		provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), acct.AssumeRole, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "idp"
		})
		cfg.Credentials = aws.NewCredentialsCache(provider)
	}
	return cfg, nil
}

func asErr[T error](err error, target *T) bool { return errors.As(err, target) }
