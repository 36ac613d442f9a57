package aws

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/fail"
)

// s3API is the part of S3 the state backend needs.
type s3API interface {
	HeadBucket(context.Context, *s3.HeadBucketInput, ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	CreateBucket(context.Context, *s3.CreateBucketInput, ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
	GetBucketVersioning(context.Context, *s3.GetBucketVersioningInput, ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error)
	PutBucketVersioning(context.Context, *s3.PutBucketVersioningInput, ...func(*s3.Options)) (*s3.PutBucketVersioningOutput, error)
	GetBucketEncryption(context.Context, *s3.GetBucketEncryptionInput, ...func(*s3.Options)) (*s3.GetBucketEncryptionOutput, error)
	PutBucketEncryption(context.Context, *s3.PutBucketEncryptionInput, ...func(*s3.Options)) (*s3.PutBucketEncryptionOutput, error)
	GetPublicAccessBlock(context.Context, *s3.GetPublicAccessBlockInput, ...func(*s3.Options)) (*s3.GetPublicAccessBlockOutput, error)
	PutPublicAccessBlock(context.Context, *s3.PutPublicAccessBlockInput, ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error)
}

// StateBackendInput names the environment whose state bucket to converge.
type StateBackendInput struct {
	Env string `json:"env"`
}

// StateBackendOutput says what EnsureStateBackend found and did.
type StateBackendOutput struct {
	Bucket  string   `json:"bucket"`
	Created bool     `json:"created"`
	Changed []string `json:"changed,omitempty"`
}

// EnsureStateBackend makes the env's state bucket exist with versioning, default encryption
// and every public access block on. It looks before it writes, so a rerun changes nothing.
func (a *Activities) EnsureStateBackend(ctx context.Context, in StateBackendInput) (StateBackendOutput, error) {
	env, err := a.Config.Env(in.Env)
	if err != nil {
		return StateBackendOutput{}, fail.Wrap(fail.Config, err, "idp.yaml")
	}
	cfg, err := awsconf.Load(ctx, env.AWS)
	if err != nil {
		return StateBackendOutput{}, err
	}
	return ensureBucket(ctx, awsconf.S3(cfg), env.StateBucket, env.AWS.Region)
}

func ensureBucket(ctx context.Context, c s3API, bucket, region string) (StateBackendOutput, error) {
	out := StateBackendOutput{Bucket: bucket}
	_, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket})
	switch {
	case isNotFound(err):
		in := &s3.CreateBucketInput{Bucket: &bucket}
		if region != "us-east-1" {
			in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
		}
		if _, err := c.CreateBucket(ctx, in); err != nil && !isCode(err, "BucketAlreadyOwnedByYou") {
			return out, classify(err, "creating state bucket %s", bucket)
		}
		out.Created = true
	case err != nil:
		return out, classify(err, "looking up state bucket %s", bucket)
	}

	ver, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &bucket})
	if err != nil {
		return out, classify(err, "reading versioning of %s", bucket)
	}
	if ver.Status != s3types.BucketVersioningStatusEnabled {
		if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &bucket,
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
			return out, classify(err, "enabling versioning on %s", bucket)
		}
		out.Changed = append(out.Changed, "versioning")
	}

	enc, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &bucket})
	if err != nil && !isCode(err, "ServerSideEncryptionConfigurationNotFoundError") {
		return out, classify(err, "reading encryption of %s", bucket)
	}
	if !encrypted(enc) {
		if _, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: &bucket,
			ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{
				ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAes256},
			}}}}); err != nil {
			return out, classify(err, "enabling encryption on %s", bucket)
		}
		out.Changed = append(out.Changed, "encryption")
	}

	pab, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &bucket})
	if err != nil && !isCode(err, "NoSuchPublicAccessBlockConfiguration") {
		return out, classify(err, "reading public access block of %s", bucket)
	}
	if !blocked(pab) {
		on := aws.Bool(true)
		if _, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &bucket,
			PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
				BlockPublicAcls: on, BlockPublicPolicy: on, IgnorePublicAcls: on, RestrictPublicBuckets: on}}); err != nil {
			return out, classify(err, "blocking public access to %s", bucket)
		}
		out.Changed = append(out.Changed, "public access block")
	}
	return out, nil
}

func encrypted(o *s3.GetBucketEncryptionOutput) bool {
	if o == nil || o.ServerSideEncryptionConfiguration == nil {
		return false
	}
	for _, r := range o.ServerSideEncryptionConfiguration.Rules {
		if d := r.ApplyServerSideEncryptionByDefault; d != nil && d.SSEAlgorithm != "" {
			return true
		}
	}
	return false
}

func blocked(o *s3.GetPublicAccessBlockOutput) bool {
	if o == nil || o.PublicAccessBlockConfiguration == nil {
		return false
	}
	c := o.PublicAccessBlockConfiguration
	return aws.ToBool(c.BlockPublicAcls) && aws.ToBool(c.BlockPublicPolicy) &&
		aws.ToBool(c.IgnorePublicAcls) && aws.ToBool(c.RestrictPublicBuckets)
}

func isNotFound(err error) bool {
	var nf *s3types.NotFound
	var nsb *s3types.NoSuchBucket
	return errors.As(err, &nf) || errors.As(err, &nsb) || isCode(err, "NotFound", "NoSuchBucket", "404")
}

func isCode(err error, codes ...string) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	for _, c := range codes {
		if api.ErrorCode() == c {
			return true
		}
	}
	return false
}

// classify wraps err; access problems become non-retryable, since only a person fixes them.
func classify(err error, format string, args ...any) error {
	if isCode(err, "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "InvalidClientTokenId", "ExpiredToken") {
		return fail.Wrap(fail.AccessDenied, err, format, args...)
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
