package aws

// Resolving release tags to image digests in the tooling account's ECR: the digest is what
// every later promotion step and approval binds to.

import (
	"context"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// listAPI is the part of ECR tag resolution needs.
type listAPI interface {
	ListImages(context.Context, *ecr.ListImagesInput, ...func(*ecr.Options)) (*ecr.ListImagesOutput, error)
}

// ResolveInput names a service's image tag.
type ResolveInput struct {
	Service string `json:"service"`
	Tag     string `json:"tag"`
	// Tooling is the run's snapshot of the tooling account and its repositories.
	Tooling config.Tooling `json:"tooling"`
}

// ResolveOutput is the tag's image, by name and by digest.
type ResolveOutput struct {
	Repository string `json:"repository"`
	// Image is registry/repository:tag, as manifests pin it.
	Image  string `json:"image"`
	Digest string `json:"digest"`
}

// Registry is the tooling account's ECR registry host.
func Registry(t config.Tooling) string {
	return fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com", t.AWS.AccountID, t.AWS.Region)
}

// ResolveImage finds the tag's digest. A missing tag or repository fails at once: retrying
// will not make CI push it.
func (a *Activities) ResolveImage(ctx context.Context, in ResolveInput) (ResolveOutput, error) {
	if in.Tooling.AWS.AccountID == "" {
		return ResolveOutput{}, fail.New(fail.Config, "the activity input carries no tooling snapshot (the run started under an older idp): start the run again")
	}
	repo, ok := in.Tooling.Repositories[in.Service]
	if !ok {
		return ResolveOutput{}, fail.New(fail.Config, "unknown service %q: tooling.repositories in idp.yaml lists the services", in.Service)
	}
	c, err := a.sdk().ecrClient(ctx, in.Tooling.AWS)
	if err != nil {
		return ResolveOutput{}, err
	}
	digest, err := resolve(ctx, c, in.Tooling.AWS.AccountID, repo, in.Tag)
	if err != nil {
		return ResolveOutput{}, err
	}
	return ResolveOutput{Repository: repo, Image: Registry(in.Tooling) + "/" + repo + ":" + in.Tag, Digest: digest}, nil
}

func resolve(ctx context.Context, c listAPI, registry, repo, tag string) (string, error) {
	p := ecr.NewListImagesPaginator(c, &ecr.ListImagesInput{RegistryId: &registry, RepositoryName: &repo,
		Filter: &ecrtypes.ListImagesFilter{TagStatus: ecrtypes.TagStatusTagged}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if isErr[*ecrtypes.RepositoryNotFoundException](err) {
			return "", fail.New(fail.NotFound, "ECR repository %s does not exist in the tooling account", repo)
		}
		if err != nil {
			return "", classify(err, "listing images of %s", repo)
		}
		for _, id := range page.ImageIds {
			if awssdk.ToString(id.ImageTag) == tag {
				return awssdk.ToString(id.ImageDigest), nil
			}
		}
	}
	return "", fail.New(fail.NotFound, "no image tagged %s in ECR repository %s: push it first (CI, or `bin/sandbox image push`)", tag, repo)
}

// ImageDigests resolves tags of the tooling account's repositories to digests, for activities
// of other systems that must compare what runs with what was approved. The zero value of its
// clients talks to AWS; NewImageDigests says so at the call site.
type ImageDigests struct {
	// Tooling is the tooling account whose ECR holds the images.
	Tooling config.AWS
	clients clients
}

// NewImageDigests returns a resolver for the tooling account's ECR, backed by the AWS SDK.
func NewImageDigests(tooling config.AWS) ImageDigests {
	return ImageDigests{Tooling: tooling, clients: sdkClients{}}
}

// Digest resolves a tag of a tooling repository to its digest. A missing repository or tag
// is a fail.NotFound error.
func (d ImageDigests) Digest(ctx context.Context, repo, tag string) (string, error) {
	if d.Tooling.AccountID == "" {
		return "", fail.New(fail.Config, "no tooling account to resolve %s:%s in: tooling.aws in idp.yaml names it", repo, tag)
	}
	c, err := orSDK(d.clients).ecrClient(ctx, d.Tooling)
	if err != nil {
		return "", err
	}
	return resolve(ctx, c, d.Tooling.AccountID, repo, tag)
}
