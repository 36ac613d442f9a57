package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/alexpermiakov/idp/internal/config"
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

// Codes of S3 errors the SDK does not model as types: a bucket without the setting.
const (
	codeNoEncryption        = "ServerSideEncryptionConfigurationNotFoundError"
	codeNoPublicAccessBlock = "NoSuchPublicAccessBlockConfiguration"
)

// StateBackendInput names the environment whose state bucket to converge.
type StateBackendInput struct {
	Snapshot config.Snapshot `json:"snapshot"`
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
	env, err := in.Snapshot.Environment()
	if err != nil {
		return StateBackendOutput{}, fail.Wrap(fail.Config, err, "activity input")
	}
	c, err := a.sdk().s3Client(ctx, env.AWS)
	if err != nil {
		return StateBackendOutput{}, err
	}
	return ensureBucket(ctx, c, env.StateBucket, env.AWS.Region)
}

// bucketSettings are the settings a state bucket must keep, in the order they are checked;
// each ensure func reports whether it had to change its setting.
var bucketSettings = []struct {
	name   string
	ensure func(context.Context, s3API, string) (bool, error)
}{
	{"versioning", ensureVersioning},
	{"encryption", ensureEncryption},
	{"public access block", ensurePublicAccessBlock},
}

func ensureBucket(ctx context.Context, c s3API, bucket, region string) (StateBackendOutput, error) {
	out := StateBackendOutput{Bucket: bucket}
	created, err := createBucket(ctx, c, bucket, region)
	if err != nil {
		return out, err
	}
	out.Created = created
	for _, s := range bucketSettings {
		changed, err := s.ensure(ctx, c, bucket)
		if err != nil {
			return out, err
		}
		if changed {
			out.Changed = append(out.Changed, s.name)
		}
	}
	return out, nil
}

// createBucket creates the bucket unless it exists, and reports whether it did.
func createBucket(ctx context.Context, c s3API, bucket, region string) (bool, error) {
	_, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket})
	switch {
	case err == nil:
		return false, nil
	case !isErr[*s3types.NotFound](err) && !isErr[*s3types.NoSuchBucket](err):
		return false, classify(err, "looking up state bucket %s", bucket)
	}
	in := &s3.CreateBucketInput{Bucket: &bucket}
	if region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
	}
	_, err = c.CreateBucket(ctx, in)
	switch {
	case err == nil:
		return true, nil
	case isErr[*s3types.BucketAlreadyOwnedByYou](err):
		// Created between our look and our create (a concurrent run): converge what is there.
		return false, nil
	case isErr[*s3types.BucketAlreadyExists](err):
		return false, fail.Wrap(fail.Config, err, "state bucket name %s is taken by another AWS account: choose another stateBucket in idp.yaml", bucket)
	default:
		return false, classify(err, "creating state bucket %s", bucket)
	}
}

func ensureVersioning(ctx context.Context, c s3API, bucket string) (bool, error) {
	ver, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &bucket})
	if err != nil {
		return false, classify(err, "reading versioning of %s", bucket)
	}
	if ver.Status == s3types.BucketVersioningStatusEnabled {
		return false, nil
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &bucket,
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		return false, classify(err, "enabling versioning on %s", bucket)
	}
	return true, nil
}

func ensureEncryption(ctx context.Context, c s3API, bucket string) (bool, error) {
	enc, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &bucket})
	if err != nil && apiCode(err) != codeNoEncryption {
		return false, classify(err, "reading encryption of %s", bucket)
	}
	if encrypted(enc) {
		return false, nil
	}
	if _, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: &bucket,
		ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAes256},
		}}}}); err != nil {
		return false, classify(err, "enabling encryption on %s", bucket)
	}
	return true, nil
}

func ensurePublicAccessBlock(ctx context.Context, c s3API, bucket string) (bool, error) {
	pab, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &bucket})
	if err != nil && apiCode(err) != codeNoPublicAccessBlock {
		return false, classify(err, "reading public access block of %s", bucket)
	}
	if blocked(pab) {
		return false, nil
	}
	on := aws.Bool(true)
	if _, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &bucket,
		PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
			BlockPublicAcls: on, BlockPublicPolicy: on, IgnorePublicAcls: on, RestrictPublicBuckets: on}}); err != nil {
		return false, classify(err, "blocking public access to %s", bucket)
	}
	return true, nil
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
