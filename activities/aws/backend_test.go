package aws

import (
	"context"
	"errors"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// stateBucket is the state bucket of prodSnapshot's env.
const stateBucket = "terraform-state-prod"

// stateBackendCase is one EnsureStateBackend scenario: setup shapes the fake and the snapshot,
// writes are the S3 writes the activity must make, check judges what it returned.
type stateBackendCase struct {
	name   string
	setup  func(*memS3, *config.Snapshot)
	writes []string
	check  func(t *testing.T, f *memS3, out StateBackendOutput, err error)
}

var stateBackendCases = []stateBackendCase{{
	name:   "a missing bucket is created with every setting",
	writes: []string{"CreateBucket", "PutBucketVersioning", "PutBucketEncryption", "PutPublicAccessBlock"},
	check: func(t *testing.T, f *memS3, out StateBackendOutput, err error) {
		require.NoError(t, err)
		require.Equal(t, StateBackendOutput{Bucket: stateBucket, Created: true,
			Changed: []string{"versioning", "encryption", "public access block"}}, out)
		require.Equal(t, s3types.BucketLocationConstraint("us-west-2"), f.created.CreateBucketConfiguration.LocationConstraint)
		require.Equal(t, compliantBucket(), f.buckets[stateBucket])
	},
}, {
	name: "us-east-1 takes no location constraint",
	setup: func(_ *memS3, s *config.Snapshot) {
		s.Env.AWS.Region = "us-east-1"
	},
	writes: []string{"CreateBucket", "PutBucketVersioning", "PutBucketEncryption", "PutPublicAccessBlock"},
	check: func(t *testing.T, f *memS3, _ StateBackendOutput, err error) {
		require.NoError(t, err)
		require.Nil(t, f.created.CreateBucketConfiguration)
	},
}, {
	name: "a converged bucket is left alone",
	setup: func(f *memS3, _ *config.Snapshot) {
		f.buckets[stateBucket] = compliantBucket()
	},
	check: func(t *testing.T, _ *memS3, out StateBackendOutput, err error) {
		require.NoError(t, err)
		require.Equal(t, StateBackendOutput{Bucket: stateBucket}, out)
	},
}, {
	name: "a bucket another run created meanwhile is converged, not created twice",
	setup: func(f *memS3, _ *config.Snapshot) {
		f.buckets[stateBucket], f.headMisses = compliantBucket(), true
	},
	check: func(t *testing.T, _ *memS3, out StateBackendOutput, err error) {
		require.NoError(t, err)
		require.Equal(t, StateBackendOutput{Bucket: stateBucket}, out)
	},
}, {
	name: "suspended versioning is restored",
	setup: func(f *memS3, _ *config.Snapshot) {
		f.buckets[stateBucket] = compliantBucket()
		f.buckets[stateBucket].versioning = s3types.BucketVersioningStatusSuspended
	},
	writes: []string{"PutBucketVersioning"},
	check: func(t *testing.T, f *memS3, out StateBackendOutput, err error) {
		require.NoError(t, err)
		require.Equal(t, []string{"versioning"}, out.Changed)
		require.Equal(t, compliantBucket(), f.buckets[stateBucket])
	},
}, {
	name: "lost encryption and public access block are restored",
	setup: func(f *memS3, _ *config.Snapshot) {
		f.buckets[stateBucket] = &memBucket{versioning: s3types.BucketVersioningStatusEnabled, public: true}
	},
	writes: []string{"PutBucketEncryption", "PutPublicAccessBlock"},
	check: func(t *testing.T, f *memS3, out StateBackendOutput, err error) {
		require.NoError(t, err)
		require.False(t, out.Created)
		require.Equal(t, []string{"encryption", "public access block"}, out.Changed)
		require.Equal(t, compliantBucket(), f.buckets[stateBucket])
	},
}, {
	name: "a bucket name another account owns is a config error",
	setup: func(f *memS3, _ *config.Snapshot) {
		f.errs = map[string]error{"CreateBucket": opErr("CreateBucket", &s3types.BucketAlreadyExists{})}
	},
	check: func(t *testing.T, _ *memS3, _ StateBackendOutput, err error) {
		requireFail(t, err, fail.Config, "terraform-state-prod is taken by another AWS account")
	},
}, {
	name: "HEAD forbidden is access denied",
	setup: func(f *memS3, _ *config.Snapshot) {
		f.errs = map[string]error{"HeadBucket": apiErr("HeadBucket", "Forbidden", "Forbidden")}
	},
	check: func(t *testing.T, _ *memS3, _ StateBackendOutput, err error) {
		requireFail(t, err, fail.AccessDenied, "looking up state bucket terraform-state-prod", "Forbidden")
	},
}, {
	name: "access denied on a write keeps AWS's message",
	setup: func(f *memS3, _ *config.Snapshot) {
		f.buckets[stateBucket] = &memBucket{}
		f.errs = map[string]error{"PutBucketVersioning": opErr("PutBucketVersioning",
			&s3types.AccessDenied{Message: awssdk.String("User: arn:aws:sts::316762121478:assumed-role/idp is not authorized to perform: s3:PutBucketVersioning")})}
	},
	check: func(t *testing.T, _ *memS3, _ StateBackendOutput, err error) {
		requireFail(t, err, fail.AccessDenied, "enabling versioning on terraform-state-prod", "is not authorized to perform: s3:PutBucketVersioning")
	},
}, {
	name: "throttling retries",
	setup: func(f *memS3, _ *config.Snapshot) {
		f.buckets[stateBucket] = &memBucket{}
		f.errs = map[string]error{"GetBucketEncryption": apiErr("GetBucketEncryption", "SlowDown", "Please reduce your request rate.")}
	},
	writes: []string{"PutBucketVersioning"},
	check: func(t *testing.T, _ *memS3, _ StateBackendOutput, err error) {
		requireRetryable(t, err)
		require.ErrorContains(t, err, "reading encryption of terraform-state-prod")
	},
}, {
	name: "a network failure retries",
	setup: func(f *memS3, _ *config.Snapshot) {
		f.errs = map[string]error{"HeadBucket": errors.New("dial tcp: connection refused")}
	},
	check: func(t *testing.T, _ *memS3, _ StateBackendOutput, err error) {
		requireRetryable(t, err)
	},
}, {
	name: "an empty snapshot is a config error",
	setup: func(_ *memS3, s *config.Snapshot) {
		*s = config.Snapshot{}
	},
	check: func(t *testing.T, _ *memS3, _ StateBackendOutput, err error) {
		requireFail(t, err, fail.Config, "no environment snapshot")
	},
}}

func TestEnsureStateBackend(t *testing.T) {
	for _, tt := range stateBackendCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &memS3{buckets: map[string]*memBucket{}}
			snap := prodSnapshot()
			if tt.setup != nil {
				tt.setup(f, &snap)
			}
			c := &fakeClients{s3: f}
			out, err := (&Activities{clients: c}).EnsureStateBackend(context.Background(), StateBackendInput{Snapshot: snap})
			tt.check(t, f, out, err)
			require.Equal(t, tt.writes, f.writes)
			if snap.Env.Name != "" {
				require.Equal(t, []string{snap.Env.AWS.AccountID}, c.accounts, "clients for the env's account")
			}
		})
	}
}
