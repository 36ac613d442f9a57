package aws

// Listing a service's tagged images for the image watch, with their push times.

import (
	"context"
	"slices"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/imagewatch"
)

// describeAPI is ECR's DescribeImages, which says when each image was pushed.
type describeAPI interface {
	DescribeImages(context.Context, *ecr.DescribeImagesInput, ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error)
}

// ListImagesInput names a service whose tagged images the watch looks at.
type ListImagesInput struct {
	Service string         `json:"service"`
	Tooling config.Tooling `json:"tooling"`
}

// ListImagesOutput lists the service's tags, one entry per tag, newest push first.
type ListImagesOutput struct {
	Images []imagewatch.Image `json:"images"`
	// PushTimes says whether the registry told push times (DescribeImages); without them the
	// listing's order stands for them.
	PushTimes bool `json:"pushTimes"`
}

// unsupported are the error codes of a registry that lacks DescribeImages (the sandbox's
// emulator); ListImages then lists the tags, newest first as that emulator keeps them.
var unsupported = []string{"InvalidAction", "UnknownOperationException", "NotImplemented"}

// ListImages lists the tags of a service's ECR repository with their push times.
func (a *Activities) ListImages(ctx context.Context, in ListImagesInput) (ListImagesOutput, error) {
	repo, ok := in.Tooling.Repositories[in.Service]
	if !ok || in.Tooling.AWS.AccountID == "" {
		return ListImagesOutput{}, fail.New(fail.Config, "unknown service %q: tooling.repositories in idp.yaml lists the services", in.Service)
	}
	c, err := a.sdk().ecrClient(ctx, in.Tooling.AWS)
	if err != nil {
		return ListImagesOutput{}, err
	}
	registry := in.Tooling.AWS.AccountID
	if d, ok := c.(describeAPI); ok {
		out, err := describe(ctx, d, registry, repo)
		if err == nil || !slices.Contains(unsupported, apiCode(err)) {
			return out, err
		}
	}
	var out ListImagesOutput
	p := ecr.NewListImagesPaginator(c, &ecr.ListImagesInput{RegistryId: &registry, RepositoryName: &repo,
		Filter: &ecrtypes.ListImagesFilter{TagStatus: ecrtypes.TagStatusTagged}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return ListImagesOutput{}, listErr(err, repo)
		}
		for _, id := range page.ImageIds {
			if tag := awssdk.ToString(id.ImageTag); tag != "" {
				out.Images = append(out.Images, imagewatch.Image{Tag: tag, Digest: awssdk.ToString(id.ImageDigest)})
			}
		}
	}
	return out, nil
}

func describe(ctx context.Context, c describeAPI, registry, repo string) (ListImagesOutput, error) {
	out := ListImagesOutput{PushTimes: true}
	p := ecr.NewDescribeImagesPaginator(c, &ecr.DescribeImagesInput{RegistryId: &registry, RepositoryName: &repo,
		Filter: &ecrtypes.DescribeImagesFilter{TagStatus: ecrtypes.TagStatusTagged}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return ListImagesOutput{}, listErr(err, repo)
		}
		for _, d := range page.ImageDetails {
			for _, tag := range d.ImageTags {
				out.Images = append(out.Images, imagewatch.Image{Tag: tag, Digest: awssdk.ToString(d.ImageDigest),
					PushedAt: awssdk.ToTime(d.ImagePushedAt)})
			}
		}
	}
	slices.SortStableFunc(out.Images, func(a, b imagewatch.Image) int { return b.PushedAt.Compare(a.PushedAt) })
	return out, nil
}

func listErr(err error, repo string) error {
	if isErr[*ecrtypes.RepositoryNotFoundException](err) {
		return fail.New(fail.NotFound, "ECR repository %s does not exist in the tooling account", repo)
	}
	return classify(err, "listing images of %s", repo)
}
