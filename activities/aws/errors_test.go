package aws

import (
	"context"
	"errors"
	"fmt"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/fail"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		denied bool
	}{
		{"S3's modeled AccessDenied", opErr("PutBucketPolicy", &s3types.AccessDenied{Message: awssdk.String("Access Denied")}), true},
		{"IAM's AccessDenied", apiErr("GetRole", "AccessDenied", "not authorized"), true},
		{"ECR's AccessDeniedException", apiErr("ListImages", "AccessDeniedException", "not authorized"), true},
		{"S3's HEAD 403", apiErr("HeadBucket", "Forbidden", "Forbidden"), true},
		{"bad credentials", apiErr("GetRole", "InvalidClientTokenId", "The security token included in the request is invalid"), true},
		{"expired credentials", apiErr("GetRole", "ExpiredToken", "The security token included in the request is expired"), true},
		{"a role the worker may not assume", fmt.Errorf("retrieving credentials: %w", apiErr("AssumeRole", "AccessDenied", "not authorized to perform: sts:AssumeRole")), true},
		{"throttling", apiErr("ListImages", "ThrottlingException", "Rate exceeded"), false},
		{"a modeled IAM failure", opErr("GetRole", &iamtypes.ServiceFailureException{}), false},
		{"a network failure", errors.New("dial tcp 10.0.0.1:443: connection refused"), false},
		{"a deadline", context.DeadlineExceeded, false},
		// Only codes count: a message that mentions access denial is not one.
		{"a message alone", errors.New("AccessDenied: somewhere in a message"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(tt.err, "reading %s", "thing")
			require.ErrorContains(t, err, "reading thing")
			require.ErrorContains(t, err, tt.err.Error(), "AWS's message is kept")
			if tt.denied {
				requireFail(t, err, fail.AccessDenied)
				require.ErrorContains(t, err, "environments[].aws.assumeRole", "the hint says what to fix")
				return
			}
			requireRetryable(t, err)
			require.ErrorIs(t, err, tt.err, "retryable errors wrap their cause")
		})
	}
}
