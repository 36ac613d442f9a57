package setup

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/platform"
)

// headsProvider is a provider that knows pull request 7 only.
type headsProvider struct{ git.Provider }

func (headsProvider) PullHead(_ context.Context, n int) (string, error) {
	if n == 7 {
		return "feature/x", nil
	}
	return "", fmt.Errorf("reading pull request #%d: %w", n, git.ErrNotFound)
}

func TestPullHeadsOf(t *testing.T) {
	require.Nil(t, pullHeadsOf(git.Unavailable(errors.New("no token"))), "plain Git: the refs/pull convention")

	h := pullHeadsOf(headsProvider{})
	require.NotNil(t, h)
	ref, err := h.PullHead(context.Background(), 7)
	require.NoError(t, err)
	require.Equal(t, "feature/x", ref)
	_, err = h.PullHead(context.Background(), 8)
	require.ErrorIs(t, err, platform.ErrNoPull, "an unknown pull request is the user's to fix")
}
