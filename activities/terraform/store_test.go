package terraform

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/config"
)

// TestS3PlanStore runs the real store against an in-process S3 emulator.
func TestS3PlanStore(t *testing.T) {
	t.Parallel()
	url := EmulatorURL()
	ctx := context.Background()
	// kumo keeps its buckets per process, not per server: a name of its own keeps this test
	// apart from the emulator-backed ones.
	env := &config.Environment{Name: "dev", StateBucket: fmt.Sprintf("plan-store-%d", time.Now().UnixNano()),
		AWS: config.AWS{AccountID: "111111111111", Region: "us-west-2", Endpoint: url}}
	cfg, err := awsconf.Load(ctx, env.AWS)
	require.NoError(t, err)
	_, err = awsconf.S3(cfg).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &env.StateBucket})
	require.NoError(t, err)

	var store S3PlanStore
	require.NoError(t, store.Put(ctx, env, "idp/plans/dev/abc.tfplan", []byte("plan")))
	b, err := store.Get(ctx, env, "idp/plans/dev/abc.tfplan")
	require.NoError(t, err)
	require.Equal(t, []byte("plan"), b)

	_, err = store.Get(ctx, env, "idp/plans/dev/gone.tfplan")
	require.ErrorIs(t, err, ErrPlanNotFound)
}

func TestIsNoSuchKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"the SDK's typed error", fmt.Errorf("operation error S3: GetObject: %w", &s3types.NoSuchKey{}), true},
		{"an API error with the code", &smithy.GenericAPIError{Code: "NoSuchKey", Message: "gone"}, true},
		{"another API error", &smithy.GenericAPIError{Code: "AccessDenied", Message: "NoSuchKey in the message"}, false},
		{"not an API error", errors.New("NoSuchKey"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, isNoSuchKey(tt.err))
		})
	}
}
