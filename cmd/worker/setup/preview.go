package setup

import (
	"context"
	"errors"
	"fmt"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/platform"
)

// pullHeader is a provider that knows where a pull request's head is (the GitHub provider).
type pullHeader interface {
	PullHead(ctx context.Context, n int) (string, error)
}

// pullHeads is a provider's PullHead as the platform activities want it.
type pullHeads struct{ p pullHeader }

func (h pullHeads) PullHead(ctx context.Context, n int) (string, error) {
	ref, err := h.p.PullHead(ctx, n)
	if errors.Is(err, git.ErrNotFound) {
		return "", fmt.Errorf("%w: %w", platform.ErrNoPull, err)
	}
	return ref, err
}

// pullHeadsOf is how previews find a pull request's head: the provider's answer where it has
// one, else nil (plain Git: refs/pull/<N>/head, or the branch the request names).
func pullHeadsOf(p git.Provider) platform.PullHeads {
	if ph, ok := p.(pullHeader); ok {
		return pullHeads{ph}
	}
	return nil
}
