package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPullRequestPreviews(t *testing.T) {
	c, err := Parse([]byte(minimal))
	require.NoError(t, err)
	require.False(t, c.Previews.PullRequests.On(), "off unless asked for")

	c, err = Parse([]byte(minimal + `
previews:
  pullRequests: {base: dev, ttl: 24h}
`))
	require.NoError(t, err)
	require.True(t, c.Previews.PullRequests.On())
	require.Equal(t, 24*time.Hour, c.Previews.PullRequests.TTL.Std())

	_, err = Parse([]byte(minimal + `
previews:
  pullRequests: {base: qa, ttl: 30s}
`))
	require.ErrorContains(t, err, "previews.pullRequests.base: names no env of idp.yaml")
	require.ErrorContains(t, err, "previews.pullRequests.ttl: must be at least 1m (e.g. 72h), got 30s")
}
