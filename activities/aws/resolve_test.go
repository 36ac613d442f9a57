package aws

import (
	"context"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// tagged are a repository's images, more than one page of them.
func tagged(tags ...string) []ecrtypes.ImageIdentifier {
	out := make([]ecrtypes.ImageIdentifier, len(tags))
	for i, tag := range tags {
		out[i] = ecrtypes.ImageIdentifier{ImageTag: awssdk.String(tag), ImageDigest: awssdk.String("sha256:" + tag)}
	}
	return out
}

// tooling is prodSnapshot's tooling account; cases only read it.
var tooling = prodSnapshot().Tooling

// resolveCase is one ResolveImage scenario: setup shapes the fake, accounts are those the
// activity must build clients for, check judges what it returned.
type resolveCase struct {
	name     string
	in       ResolveInput
	setup    func(*memECR)
	accounts []string
	check    func(t *testing.T, out ResolveOutput, err error)
}

var resolveCases = []resolveCase{{
	name:     "a tag on a later page resolves",
	in:       ResolveInput{Service: "time-service", Tag: "v5", Tooling: tooling},
	accounts: []string{toolingAccount},
	check: func(t *testing.T, out ResolveOutput, err error) {
		require.NoError(t, err)
		require.Equal(t, ResolveOutput{Repository: "idp/localtime",
			Image:  "864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:v5",
			Digest: "sha256:v5"}, out)
	},
}, {
	name:     "a missing tag is not found",
	in:       ResolveInput{Service: "time-service", Tag: "v9", Tooling: tooling},
	accounts: []string{toolingAccount},
	check: func(t *testing.T, _ ResolveOutput, err error) {
		requireFail(t, err, fail.NotFound, "no image tagged v9 in ECR repository idp/localtime")
	},
}, {
	name:     "a missing repository is not found",
	in:       ResolveInput{Service: "version-service", Tag: "v1", Tooling: tooling},
	setup:    func(f *memECR) { delete(f.repos, "idp/version") },
	accounts: []string{toolingAccount},
	check: func(t *testing.T, _ ResolveOutput, err error) {
		requireFail(t, err, fail.NotFound, "ECR repository idp/version does not exist")
	},
}, {
	name: "access denied is a non-retryable failure with AWS's message",
	in:   ResolveInput{Service: "time-service", Tag: "v1", Tooling: tooling},
	setup: func(f *memECR) {
		f.errs = map[string]error{"ListImages": apiErr("ListImages", "AccessDeniedException", "not authorized to perform: ecr:ListImages")}
	},
	accounts: []string{toolingAccount},
	check: func(t *testing.T, _ ResolveOutput, err error) {
		requireFail(t, err, fail.AccessDenied, "listing images of idp/localtime", "not authorized to perform: ecr:ListImages")
	},
}, {
	name: "throttling retries",
	in:   ResolveInput{Service: "time-service", Tag: "v1", Tooling: tooling},
	setup: func(f *memECR) {
		f.errs = map[string]error{"ListImages": apiErr("ListImages", "ThrottlingException", "Rate exceeded")}
	},
	accounts: []string{toolingAccount},
	check: func(t *testing.T, _ ResolveOutput, err error) {
		requireRetryable(t, err)
	},
}, {
	name: "an unknown service is a config error",
	in:   ResolveInput{Service: "nope", Tag: "v1", Tooling: tooling},
	check: func(t *testing.T, _ ResolveOutput, err error) {
		requireFail(t, err, fail.Config, `unknown service "nope"`)
	},
}, {
	name: "an empty tooling snapshot is a config error",
	in:   ResolveInput{Service: "time-service", Tag: "v1", Tooling: config.Tooling{}},
	check: func(t *testing.T, _ ResolveOutput, err error) {
		requireFail(t, err, fail.Config, "no tooling snapshot")
	},
}}

func TestResolveImage(t *testing.T) {
	for _, tt := range resolveCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &memECR{repos: map[string]*memRepo{
				"idp/localtime": {images: tagged("v1", "v2", "v3", "v4", "v5")},
				"idp/version":   {images: tagged("v1")},
			}}
			if tt.setup != nil {
				tt.setup(f)
			}
			c := &fakeClients{ecr: f}
			out, err := (&Activities{clients: c}).ResolveImage(context.Background(), tt.in)
			tt.check(t, out, err)
			require.Equal(t, tt.accounts, c.accounts)
		})
	}
}

func TestImageDigests(t *testing.T) {
	f := &memECR{repos: map[string]*memRepo{"idp/localtime": {images: tagged("v1", "v2", "v3")}}}
	c := &fakeClients{ecr: f}
	d := ImageDigests{Tooling: prodSnapshot().Tooling.AWS, clients: c}
	ctx := context.Background()

	digest, err := d.Digest(ctx, "idp/localtime", "v3")
	require.NoError(t, err)
	require.Equal(t, "sha256:v3", digest)
	require.Equal(t, []string{toolingAccount}, c.accounts)

	_, err = d.Digest(ctx, "idp/localtime", "v9")
	requireFail(t, err, fail.NotFound, "no image tagged v9")
	_, err = d.Digest(ctx, "idp/version", "v1")
	requireFail(t, err, fail.NotFound, "ECR repository idp/version does not exist")
	_, err = ImageDigests{clients: c}.Digest(ctx, "idp/localtime", "v1")
	requireFail(t, err, fail.Config, "no tooling account")
}

func TestConstructorsUseTheSDK(t *testing.T) {
	require.Equal(t, sdkClients{}, New().sdk())
	require.Equal(t, sdkClients{}, (&Activities{}).sdk(), "the zero value talks to AWS too")
	require.Equal(t, sdkClients{}, NewImageDigests(config.AWS{AccountID: toolingAccount}).clients)
}
