package cli

import (
	"bytes"
	"context"
	"errors"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/config"
)

type fakeECR struct {
	tags map[string][]string // repository → tags
	err  error
}

func (f fakeECR) ListImages(_ context.Context, in *ecr.ListImagesInput, _ ...func(*ecr.Options)) (*ecr.ListImagesOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	tags, ok := f.tags[*in.RepositoryName]
	if !ok {
		return nil, &ecrtypes.RepositoryNotFoundException{Message: awssdk.String("not found")}
	}
	out := &ecr.ListImagesOutput{}
	for _, t := range tags {
		out.ImageIds = append(out.ImageIds, ecrtypes.ImageIdentifier{ImageTag: awssdk.String(t), ImageDigest: awssdk.String("sha256:1")})
	}
	return out, nil
}

func TestCheckTags(t *testing.T) {
	cfg := &config.Config{Tooling: config.Tooling{AWS: config.AWS{AccountID: "444444444444"},
		Repositories: map[string]string{"time-service": "idp/time-service", "gone": "idp/gone"}}}
	var errOut bytes.Buffer
	g := &globals{errOut: &errOut, ecr: fakeECR{tags: map[string][]string{"idp/time-service": {"sha-1a2b3c4"}}}}
	ctx := context.Background()

	require.NoError(t, g.checkTags(ctx, cfg, map[string]string{"time-service": "sha-1a2b3c4"}))

	err := g.checkTags(ctx, cfg, map[string]string{"time-service": "sha-0000000"})
	require.Equal(t, ExitBadInput, Code(err))
	require.ErrorContains(t, err, "idp/time-service:sha-0000000 is not in ECR")
	require.ErrorContains(t, err, "push it first")

	err = g.checkTags(ctx, cfg, map[string]string{"gone": "sha-1a2b3c4"})
	require.Equal(t, ExitBadInput, Code(err))
	require.ErrorContains(t, err, "ECR repository idp/gone does not exist")

	// ECR cannot be asked: a note, and the run decides.
	g.ecr = fakeECR{err: errors.New("no EC2 IMDS role found\nretry later")}
	require.NoError(t, g.checkTags(ctx, cfg, map[string]string{"time-service": "sha-0000000"}))
	require.Empty(t, errOut.String(), "the note waits until the request is taken")
	g.flushNote()
	require.Equal(t, "note: could not look the tag up in ECR before starting (no EC2 IMDS role found retry later); the run checks it\n", errOut.String())
}
