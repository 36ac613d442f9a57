package stack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/config"
)

// Services maps each service to its repository in the tooling account.
var Services = map[string]string{"time-service": "idp/localtime", "version-service": "idp/version"}

func serviceNames() []string { return sortedKeys(Services) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func ecrClient(ctx context.Context, endpoint string) (*ecr.Client, error) {
	cfg, err := awsconf.Load(ctx, config.AWS{AccountID: AccountIDs["tooling"], Region: "us-west-2", Endpoint: endpoint})
	if err != nil {
		return nil, err
	}
	return ecr.NewFromConfig(cfg), nil
}

// createRepositories creates the tooling account's ECR repositories of services, as they
// exist in AWS.
func createRepositories(ctx context.Context, endpoint string, services map[string]string) error {
	c, err := ecrClient(ctx, endpoint)
	if err != nil {
		return err
	}
	for _, svc := range sortedKeys(services) {
		_, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: awssdk.String(services[svc])})
		var exists *ecrtypes.RepositoryAlreadyExistsException
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("creating ECR repository %s: %w", services[svc], err)
		}
	}
	return nil
}

// PushOptions describe one image push, as CI does it.
type PushOptions struct {
	Service string
	Tag     string
	// Like gives the new tag the digest the image tagged Like has (a release tag on a build).
	Like string
	// Broken marks the image as one that never becomes healthy once deployed.
	Broken bool
	// NoEvent skips delivering the push event to the worker (sandbox image push only).
	NoEvent bool
}

// PushImage puts an image with opts.Tag into the tooling ECR at endpoint and returns its
// digest. A plain push of the same service and tag always yields the same digest.
func PushImage(ctx context.Context, endpoint string, opts PushOptions) (string, error) {
	repo, ok := repositoryOf(opts.Service)
	if !ok {
		return "", fmt.Errorf("unknown service %q (known: %v, and svc-001 ... with sandbox up --services N)", opts.Service, serviceNames())
	}
	if opts.Tag == "" {
		return "", errors.New("an image needs a tag")
	}
	c, err := ecrClient(ctx, endpoint)
	if err != nil {
		return "", err
	}
	manifest := fakeManifest(opts.Service, opts.Tag, opts.Broken)
	if opts.Like != "" {
		if manifest, err = manifestOf(ctx, c, repo, opts.Like); err != nil {
			return "", err
		}
	}
	out, err := c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: &repo, ImageTag: &opts.Tag, ImageManifest: &manifest,
		ImageManifestMediaType: awssdk.String("application/vnd.oci.image.manifest.v1+json")})
	if err != nil {
		return "", fmt.Errorf("pushing %s:%s: %w", repo, opts.Tag, err)
	}
	return awssdk.ToString(out.Image.ImageId.ImageDigest), nil
}

// manifestOf returns the manifest of the image tagged tag. The emulator answers BatchGetImage
// by digest only, so the tag is resolved with ListImages first.
func manifestOf(ctx context.Context, c *ecr.Client, repo, tag string) (string, error) {
	digest, err := digestOf(ctx, c, repo, tag)
	if err != nil {
		return "", err
	}
	got, err := c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: &repo,
		ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: &digest}}})
	if err != nil {
		return "", fmt.Errorf("reading %s@%s: %w", repo, digest, err)
	}
	if len(got.Images) == 0 {
		return "", fmt.Errorf("%s@%s has no manifest", repo, digest)
	}
	return awssdk.ToString(got.Images[0].ImageManifest), nil
}

// digestOf resolves a tag of repo to its digest with ListImages.
func digestOf(ctx context.Context, c *ecr.Client, repo, tag string) (string, error) {
	p := ecr.NewListImagesPaginator(c, &ecr.ListImagesInput{RepositoryName: &repo})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("listing %s: %w", repo, err)
		}
		for _, id := range page.ImageIds {
			if awssdk.ToString(id.ImageTag) == tag {
				return awssdk.ToString(id.ImageDigest), nil
			}
		}
	}
	return "", fmt.Errorf("%s has no image tagged %q (push it first)", repo, tag)
}

// fakeManifest is an OCI image manifest whose config digest is derived from the service and
// tag: the same push gives the same digest, a different tag a different one.
func fakeManifest(svc, tag string, broken bool) string {
	seed := sha256.Sum256([]byte("idp-sandbox/" + svc + "/" + tag))
	cfgDigest := "sha256:" + hex.EncodeToString(seed[:])
	annotations := map[string]string{"org.opencontainers.image.title": svc, "org.opencontainers.image.version": tag}
	if broken {
		annotations["dev.idp.sandbox/broken"] = "true"
	}
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfgDigest, "size": 2},
		"layers":        []any{},
		"annotations":   annotations,
	}
	b, _ := json.Marshal(m)
	return string(b)
}
