package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// s3TeardownAPI is the part of S3 a teardown needs: the env's objects and, on purge, the
// bucket with every version it keeps.
type s3TeardownAPI interface {
	HeadBucket(context.Context, *s3.HeadBucketInput, ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	ListObjectVersions(context.Context, *s3.ListObjectVersionsInput, ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
	DeleteBucket(context.Context, *s3.DeleteBucketInput, ...func(*s3.Options)) (*s3.DeleteBucketOutput, error)
}

// RemoveStateInput names the env whose state goes; Purge deletes the whole bucket too.
type RemoveStateInput struct {
	Snapshot config.Snapshot `json:"snapshot"`
	Purge    bool            `json:"purge,omitempty"`
}

// RemoveStateOutput says what RemoveState removed and what was already gone.
type RemoveStateOutput struct {
	Bucket        string   `json:"bucket"`
	Removed       []string `json:"removed,omitempty"`
	AlreadyGone   []string `json:"alreadyGone,omitempty"`
	BucketDeleted bool     `json:"bucketDeleted,omitempty"`
}

// RemoveState deletes the env's state object, its lock file and the env's saved plans from
// the state bucket, every version of each (the teardown was approved; a delete marker would
// only hide the state), and keeps the bucket, which other envs' objects may share. With
// Purge it deletes every object version left and then the bucket. What is not there counts
// as done, so a rerun finishes the job.
func (a *Activities) RemoveState(ctx context.Context, in RemoveStateInput) (RemoveStateOutput, error) {
	env, err := in.Snapshot.Environment()
	if err != nil {
		return RemoveStateOutput{}, fail.Wrap(fail.Config, err, "activity input")
	}
	cfg, err := awsconf.Load(ctx, env.AWS)
	if err != nil {
		return RemoveStateOutput{}, err
	}
	return removeState(ctx, awsconf.S3(cfg), env, in.Purge)
}

func removeState(ctx context.Context, c s3TeardownAPI, env *config.Environment, purge bool) (RemoveStateOutput, error) {
	bucket := env.StateBucket
	out := RemoveStateOutput{Bucket: bucket}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket}); err != nil {
		if notFound(err) {
			out.AlreadyGone = append(out.AlreadyGone, "bucket "+bucket)
			return out, nil
		}
		return out, classify(err, "looking up state bucket %s", bucket)
	}
	keys := []string{env.StateKey, env.StateKey + ".tflock"}
	plans, err := listKeys(ctx, c, bucket, "idp/plans/"+env.Name+"/")
	if err != nil {
		return out, err
	}
	for _, key := range append(keys, plans...) {
		found, err := removeObject(ctx, c, bucket, key)
		if err != nil {
			return out, err
		}
		switch {
		case found:
			out.Removed = append(out.Removed, "s3://"+bucket+"/"+key)
		case key == env.StateKey:
			out.AlreadyGone = append(out.AlreadyGone, "s3://"+bucket+"/"+key)
		}
	}
	if !purge {
		return out, nil
	}
	if err := deleteVersions(ctx, c, bucket); err != nil {
		return out, err
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket}); err != nil && !notFound(err) {
		return out, classify(err, "deleting state bucket %s", bucket)
	}
	out.BucketDeleted = true
	out.Removed = append(out.Removed, "bucket "+bucket)
	return out, nil
}

// removeObject deletes every version of key (and its delete markers), so the object is gone
// rather than hidden behind a marker, and reports whether there was one.
func removeObject(ctx context.Context, c s3TeardownAPI, bucket, key string) (bool, error) {
	ids, err := versionsOf(ctx, c, bucket, key)
	if err != nil {
		return false, err
	}
	if len(ids) == 0 {
		// A bucket without versioning lists nothing: look for the object itself.
		_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
		if notFound(err) {
			return false, nil
		}
		if err != nil {
			return false, classify(err, "looking up s3://%s/%s", bucket, key)
		}
		ids = []s3types.ObjectIdentifier{{Key: &key}}
	}
	for _, id := range ids {
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: id.Key, VersionId: id.VersionId}); err != nil && !notFound(err) {
			return false, classify(err, "deleting s3://%s/%s", bucket, key)
		}
	}
	return true, nil
}

// versionsOf lists the versions and delete markers of exactly key.
func versionsOf(ctx context.Context, c s3TeardownAPI, bucket, key string) ([]s3types.ObjectIdentifier, error) {
	var ids []s3types.ObjectIdentifier
	in := &s3.ListObjectVersionsInput{Bucket: &bucket, Prefix: &key}
	for {
		page, err := c.ListObjectVersions(ctx, in)
		if err != nil {
			return nil, classify(err, "listing versions of s3://%s/%s", bucket, key)
		}
		for _, v := range page.Versions {
			if aws.ToString(v.Key) == key {
				ids = append(ids, s3types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
			}
		}
		for _, m := range page.DeleteMarkers {
			if aws.ToString(m.Key) == key {
				ids = append(ids, s3types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
			}
		}
		if !aws.ToBool(page.IsTruncated) {
			return ids, nil
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
	}
}

// listKeys lists the keys under prefix.
func listKeys(ctx context.Context, c s3TeardownAPI, bucket, prefix string) ([]string, error) {
	var keys []string
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, classify(err, "listing s3://%s/%s", bucket, prefix)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

// deleteVersions deletes every version and delete marker in the bucket, which S3 wants gone
// before it deletes a versioned bucket.
func deleteVersions(ctx context.Context, c s3TeardownAPI, bucket string) error {
	in := &s3.ListObjectVersionsInput{Bucket: &bucket}
	for {
		page, err := c.ListObjectVersions(ctx, in)
		if err != nil {
			return classify(err, "listing object versions in %s", bucket)
		}
		var ids []s3types.ObjectIdentifier
		for _, v := range page.Versions {
			ids = append(ids, s3types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range page.DeleteMarkers {
			ids = append(ids, s3types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
		for _, id := range ids {
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: id.Key, VersionId: id.VersionId}); err != nil && !notFound(err) {
				return classify(err, "deleting s3://%s/%s version %s", bucket, aws.ToString(id.Key), aws.ToString(id.VersionId))
			}
		}
		if !aws.ToBool(page.IsTruncated) {
			return nil
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
	}
}

// notFound reports whether S3 or IAM said the thing does not exist.
func notFound(err error) bool {
	if err == nil {
		return false
	}
	switch apiCode(err) {
	case "NotFound", "NoSuchBucket", "NoSuchKey", "NoSuchEntity", "404":
		return true
	}
	return isErr[*s3types.NotFound](err) || isErr[*s3types.NoSuchBucket](err) || isErr[*s3types.NoSuchKey](err)
}
