// Package awsconf builds aws-sdk-go-v2 configuration for one AWS account as idp.yaml
// describes it: region, endpoint override (an emulator) and the role to assume.
package awsconf

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/alexpermiakov/idp/internal/config"
)

// Load returns SDK configuration for one account: its region, its endpoint override, and the
// role to assume when idp.yaml names one. Against an endpoint override (an emulator) it uses
// static dummy credentials, so real credentials never leave for it.
func Load(ctx context.Context, acct config.AWS) (aws.Config, error) {
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

// S3 returns an S3 client for cfg; path-style addressing when an endpoint is overridden.
func S3(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = o.BaseEndpoint != nil
		// Emulators send no response checksums; do not log about each one.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
}
