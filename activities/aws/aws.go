package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/config"
)

// Activities are idp's AWS activities. They hold no configuration: each input carries the
// snapshot of the accounts it works in, and the activities build clients for those accounts.
// The zero value talks to AWS; New says so at the call site.
type Activities struct {
	clients clients
}

// New returns the activities backed by the AWS SDK, configured per account by awsconf.
func New() *Activities {
	return &Activities{clients: sdkClients{}}
}

func (a *Activities) sdk() clients {
	if a == nil {
		return sdkClients{}
	}
	return orSDK(a.clients)
}

// orSDK is c, or the SDK's clients when c is nil (a zero Activities or ImageDigests).
func orSDK(c clients) clients {
	if c == nil {
		return sdkClients{}
	}
	return c
}

// clients builds the clients for one account; sdkClients is the real one, tests pass fakes.
type clients interface {
	s3Client(ctx context.Context, acct config.AWS) (s3API, error)
	iamClient(ctx context.Context, acct config.AWS) (iamAPI, error)
	ecrClient(ctx context.Context, acct config.AWS) (ecrAPI, error)
}

// ecrAPI is the part of ECR this package needs: repository policies and image listings.
type ecrAPI interface {
	ecrPolicyAPI
	listAPI
}

// sdkClients builds SDK clients from awsconf. It loads configuration per call rather than
// once per worker: inputs name the account, and credentials it assumes are the account's own.
type sdkClients struct{}

func (sdkClients) s3Client(ctx context.Context, acct config.AWS) (s3API, error) {
	cfg, err := awsconf.Load(ctx, acct)
	if err != nil {
		return nil, err
	}
	return awsconf.S3(cfg), nil
}

func (sdkClients) iamClient(ctx context.Context, acct config.AWS) (iamAPI, error) {
	cfg, err := awsconf.Load(ctx, acct)
	if err != nil {
		return nil, err
	}
	return iam.NewFromConfig(cfg), nil
}

func (sdkClients) ecrClient(ctx context.Context, acct config.AWS) (ecrAPI, error) {
	cfg, err := awsconf.Load(ctx, acct)
	if err != nil {
		return nil, err
	}
	return ecr.NewFromConfig(cfg), nil
}
