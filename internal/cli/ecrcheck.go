package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/config"
)

// imageLister is the part of ECR the tag check needs.
type imageLister interface {
	ListImages(context.Context, *ecr.ListImagesInput, ...func(*ecr.Options)) (*ecr.ListImagesOutput, error)
}

// errTagMissing is a tag (or its repository) ECR does not have: bad input.
var errTagMissing = errors.New("not in ECR")

// checkTags looks each service's tag up in the tooling account's ECR before a run starts, so
// a tag CI never pushed is refused with nothing started. When ECR cannot be asked (no AWS
// credentials where starter runs, a network error) it says so in one line and lets the run
// decide: the run resolves every tag again and fails at once on a missing one.
func (g *globals) checkTags(ctx context.Context, cfg *config.Config, tags map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var lister imageLister
	if g.ecr != nil {
		lister = g.ecr
	} else {
		awsCfg, err := awsconf.Load(ctx, cfg.Tooling.AWS)
		if err != nil {
			g.tagsUnchecked(err)
			return nil
		}
		lister = ecr.NewFromConfig(awsCfg)
	}
	for _, svc := range slices.Sorted(maps.Keys(tags)) {
		err := tagExists(ctx, lister, cfg.Tooling.AWS.AccountID, cfg.Tooling.Repositories[svc], tags[svc])
		if errors.Is(err, errTagMissing) {
			return badInput(err)
		}
		if err != nil {
			g.tagsUnchecked(err)
			return nil
		}
	}
	return nil
}

func (g *globals) tagsUnchecked(err error) {
	g.notes = append(g.notes, fmt.Sprintf("note: could not look the tag up in ECR before starting (%v); the run checks it", oneLine(err)))
}

// tagExists is nil when repo holds tag, an error wrapping errTagMissing when it (or repo) does
// not, and any other error when ECR could not be asked.
func tagExists(ctx context.Context, c imageLister, registry, repo, tag string) error {
	// ListImages, not DescribeImages with the one tag: kumo (v0.33.1), the ECR the tests and the sandbox run, answers DescribeImages with InvalidAction.
	p := ecr.NewListImagesPaginator(c, &ecr.ListImagesInput{RegistryId: &registry, RepositoryName: &repo,
		Filter: &ecrtypes.ListImagesFilter{TagStatus: ecrtypes.TagStatusTagged}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		var nf *ecrtypes.RepositoryNotFoundException
		if errors.As(err, &nf) {
			return fmt.Errorf("ECR repository %s does not exist in the tooling account (%s): %w; create it (infra/tooling) and push the image first", repo, registry, errTagMissing)
		}
		if err != nil {
			return err
		}
		for _, id := range page.ImageIds {
			if awssdk.ToString(id.ImageTag) == tag {
				return nil
			}
		}
	}
	return fmt.Errorf("image %s:%s is %w (tooling account %s): push it first (CI, or `bin/sandbox image push`), or check the tag", repo, tag, errTagMissing, registry)
}

// oneLine keeps an error's message on one line.
func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
