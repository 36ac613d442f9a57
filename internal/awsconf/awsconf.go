// Package awsconf builds aws-sdk-go-v2 configuration for one AWS account as idp.yaml
// describes it: region, endpoint override (an emulator) and the role to assume.
package awsconf

import (
	"context"
	"fmt"
	"sync"

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
//
// An account's configuration is loaded once per process and shared: its HTTP client (and so
// its open connections and the CA bundle it parsed) and its credentials cache (an assumed
// role's credentials, refreshed before they expire). Loading it for every call cost each
// activity a parse of $AWS_CA_BUNDLE and a connection of its own.
func Load(ctx context.Context, acct config.AWS) (aws.Config, error) {
	if cfg, ok := loaded.Load(acct); ok {
		return cfg.(aws.Config).Copy(), nil
	}
	cfg, err := load(ctx, acct)
	if err != nil {
		return aws.Config{}, err
	}
	shared, _ := loaded.LoadOrStore(acct, cfg)
	return shared.(aws.Config).Copy(), nil
}

// loaded holds each account's configuration (config.AWS → aws.Config).
var loaded sync.Map

func load(ctx context.Context, acct config.AWS) (aws.Config, error) {
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
