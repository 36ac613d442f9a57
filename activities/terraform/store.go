package terraform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/config"
)

// ErrPlanNotFound means the plan file asked for is not in the state bucket (it was deleted,
// or the key is wrong); only a new plan helps.
var ErrPlanNotFound = errors.New("plan file not found")

// S3PlanStore is the PlanStore over S3: it reaches each env's state bucket with that env's
// account settings (region, endpoint, role), as internal/awsconf builds them.
type S3PlanStore struct{}

// Put stores body under key in env's state bucket.
func (S3PlanStore) Put(ctx context.Context, env *config.Environment, key string, body []byte) error {
	cfg, err := awsconf.Load(ctx, env.AWS)
	if err != nil {
		return err
	}
	_, err = awsconf.S3(cfg).PutObject(ctx, &s3.PutObjectInput{Bucket: &env.StateBucket, Key: &key, Body: bytes.NewReader(body)})
	if err != nil {
		return fmt.Errorf("storing plan file s3://%s/%s: %w", env.StateBucket, key, err)
	}
	return nil
}

// Get returns the object under key in env's state bucket; a missing object is reported as
// ErrPlanNotFound.
func (S3PlanStore) Get(ctx context.Context, env *config.Environment, key string) ([]byte, error) {
	cfg, err := awsconf.Load(ctx, env.AWS)
	if err != nil {
		return nil, err
	}
	obj, err := awsconf.S3(cfg).GetObject(ctx, &s3.GetObjectInput{Bucket: &env.StateBucket, Key: &key})
	if err != nil {
		if isNoSuchKey(err) {
			return nil, fmt.Errorf("fetching plan file s3://%s/%s: %w: %w", env.StateBucket, key, ErrPlanNotFound, err)
		}
		return nil, fmt.Errorf("fetching plan file s3://%s/%s: %w", env.StateBucket, key, err)
	}
	defer obj.Body.Close()
	b, err := io.ReadAll(obj.Body)
	if err != nil {
		return nil, fmt.Errorf("reading plan file s3://%s/%s: %w", env.StateBucket, key, err)
	}
	return b, nil
}

// isNoSuchKey reports whether S3 said the object does not exist. The SDK decodes GetObject's
// NoSuchKey into *s3types.NoSuchKey; S3-compatible stores that answer differently still carry
// the error code.
func isNoSuchKey(err error) bool {
	var nsk *s3types.NoSuchKey
	if errors.As(err, &nsk) {
		return true
	}
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "NoSuchKey"
}
