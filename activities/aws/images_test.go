package aws

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/imagewatch"
)

// The emulator has no DescribeImages: the activity falls back to ListImages, whose order
// (newest push first in the emulator) stands for push times.
func TestListImagesAgainstEmulator(t *testing.T) {
	srv := sharedEmulator()
	ctx := context.Background()
	tooling := config.Tooling{AWS: config.AWS{AccountID: "864992049050", Region: "us-west-2", Endpoint: srv.URL},
		Repositories: map[string]string{"watch-service": "idp/watch-test"}}
	sdkCfg, err := awsconf.Load(ctx, tooling.AWS)
	require.NoError(t, err)
	c := ecr.NewFromConfig(sdkCfg)
	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: awssdk.String("idp/watch-test")})
	require.NoError(t, err)
	for _, tag := range []string{"sha-aaaaaaa", "v1.0.0", "sha-bbbbbbb"} {
		manifest := `{"schemaVersion":2,"config":{"digest":"sha256:` + tag + `"}}`
		_, err := c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: awssdk.String("idp/watch-test"), ImageTag: awssdk.String(tag), ImageManifest: &manifest})
		require.NoError(t, err)
		time.Sleep(10 * time.Millisecond) // distinct push times
	}
	out, err := New().ListImages(ctx, ListImagesInput{Service: "watch-service", Tooling: tooling})
	require.NoError(t, err)
	require.False(t, out.PushTimes, "the emulator tells no push times")
	var tags []string
	for _, img := range out.Images {
		tags = append(tags, img.Tag)
		require.Contains(t, img.Digest, "sha256:")
	}
	require.Equal(t, []string{"sha-bbbbbbb", "v1.0.0", "sha-aaaaaaa"}, tags)

	_, err = New().ListImages(ctx, ListImagesInput{Service: "nope", Tooling: tooling})
	requireFail(t, err, fail.Config, `unknown service "nope"`)
}

// Against a registry with DescribeImages, the push times come from it, newest first.
func TestListImagesWithPushTimes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "AmazonEC2ContainerRegistry_V20150921.DescribeImages", r.Header.Get("X-Amz-Target"))
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write([]byte(`{"imageDetails":[
			{"imageDigest":"sha256:a","imageTags":["sha-aaaaaaa"],"imagePushedAt":1764496800},
			{"imageDigest":"sha256:b","imageTags":["v1.2.3","sha-bbbbbbb"],"imagePushedAt":1764500400}]}`))
	}))
	defer srv.Close()
	tooling := config.Tooling{AWS: config.AWS{AccountID: "864992049050", Region: "us-west-2", Endpoint: srv.URL},
		Repositories: map[string]string{"time-service": "idp/localtime"}}
	out, err := New().ListImages(context.Background(), ListImagesInput{Service: "time-service", Tooling: tooling})
	require.NoError(t, err)
	require.True(t, out.PushTimes)
	later, earlier := time.Unix(1764500400, 0).UTC(), time.Unix(1764496800, 0).UTC()
	require.Equal(t, []imagewatch.Image{
		{Tag: "v1.2.3", Digest: "sha256:b", PushedAt: later},
		{Tag: "sha-bbbbbbb", Digest: "sha256:b", PushedAt: later},
		{Tag: "sha-aaaaaaa", Digest: "sha256:a", PushedAt: earlier},
	}, normalize(out.Images))
}

func normalize(imgs []imagewatch.Image) []imagewatch.Image {
	for i := range imgs {
		imgs[i].PushedAt = imgs[i].PushedAt.UTC()
	}
	return imgs
}
