package github

import (
	"context"
	"strconv"
	"strings"
)

// PullHead returns the ref a preview of pull request n tracks: its head branch when that
// branch lives in this repository, else refs/pull/<n>/head, where GitHub keeps every pull
// request's head, forks' included. A pull request GitHub does not know wraps git.ErrNotFound.
func (p *provider) PullHead(ctx context.Context, n int) (string, error) {
	var ref string
	err := p.retry.Do(ctx, func() error {
		pr, _, err := p.client.GetPullRequest(ctx, p.owner, p.repo, n)
		if err != nil {
			return p.classify(err, "reading pull request #%d", n)
		}
		head := pr.GetHead()
		if strings.EqualFold(head.GetRepo().GetFullName(), p.owner+"/"+p.repo) && head.GetRef() != "" {
			ref = head.GetRef()
		} else {
			ref = "refs/pull/" + strconv.Itoa(n) + "/head"
		}
		return nil
	})
	return ref, err
}
