package github

import (
	"context"
	"fmt"

	"github.com/google/go-github/v62/github"

	"github.com/alexpermiakov/idp/activities/git"
)

var _ git.ReviewLister = (*provider)(nil)

// maxReviewPages bounds one listing (100 reviews a page), so a server that keeps answering
// with a next page cannot hold a watch forever.
const maxReviewPages = 50

// Reviews implements git.ReviewLister: every submitted review of prop's pull request, all
// pages, oldest first. A server error or rate limit re-reads from the first page, so a
// listing is never stitched from two moments.
func (p *provider) Reviews(ctx context.Context, prop git.Proposal) ([]git.Review, error) {
	if prop.Number == 0 {
		return nil, nil
	}
	var out []git.Review
	err := p.retry.Do(ctx, func() error {
		var err error
		out, err = p.reviews(ctx, prop.Number)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing the reviews of pull request #%d: %w", prop.Number, err)
	}
	return out, nil
}

// reviews is one attempt of Reviews.
func (p *provider) reviews(ctx context.Context, n int) ([]git.Review, error) {
	out := []git.Review{}
	opts := &github.ListOptions{PerPage: 100}
	for page := 1; ; page++ {
		rs, resp, err := p.client.ListReviews(ctx, p.owner, p.repo, n, opts)
		if err != nil {
			return nil, p.classify(err, "reading page %d of the reviews of pull request #%d", opts.Page, n)
		}
		for _, r := range rs {
			if r.GetState() == "PENDING" { // a draft only its author sees
				continue
			}
			out = append(out, git.Review{ID: r.GetID(), Login: r.GetUser().GetLogin(), State: r.GetState(),
				CommitID: r.GetCommitID(), SubmittedAt: r.GetSubmittedAt().Time.UTC(), URL: r.GetHTMLURL()})
		}
		if resp == nil || resp.NextPage == 0 {
			return out, nil
		}
		if page >= maxReviewPages {
			return nil, fmt.Errorf("pull request #%d has more than %d pages of reviews", n, maxReviewPages)
		}
		opts.Page = resp.NextPage
	}
}
