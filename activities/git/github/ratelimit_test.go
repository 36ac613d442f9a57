package github

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/github/githubtest"
	"github.com/alexpermiakov/idp/activities/git/internal/gittest"
	"github.com/alexpermiakov/idp/activities/git/internal/retry"
)

// A secondary rate limit GitHub sends without its documentation URL (which go-github needs to
// see one) is still a rate limit, never a refusal of credentials: waited out in place when
// short, handed to the activity's next attempt when long.
func TestSecondaryRateLimitWithoutDocumentationURL(t *testing.T) {
	t.Parallel()
	bump := git.Change{Path: gittest.ProdApp, Edit: gittest.Image("idp/localtime:v1.2.3"), Message: "promote\n\nworkflow: w\n"}
	for _, tc := range []struct {
		retryAfter string
		wantErr    bool
	}{{"0", false}, {"", true}, {"600", true}} {
		t.Run("Retry-After "+tc.retryAfter, func(t *testing.T) {
			t.Parallel()
			f := githubtest.New(t, gittest.Seed)
			f.Intercept = func(w http.ResponseWriter, _ *http.Request, route string) bool {
				if route != "GET contents" || f.Calls[route] != 1 {
					return false
				}
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				githubtest.WriteJSON(w, http.StatusForbidden, map[string]any{"message": "You have exceeded a secondary rate limit."})
				return true
			}
			p := provGitHubProvider(t, f)
			p.rateLimitMaxWait = 30 * time.Second
			res, err := p.Commit(context.Background(), "main", bump)
			if !tc.wantErr {
				require.NoError(t, err)
				require.True(t, res.Changed)
				return
			}
			require.NotErrorIs(t, err, git.ErrAuth)
			wait, ok := retry.DeferredFor(err)
			require.True(t, ok, "%v", err)
			want := time.Minute // GitHub's advice without Retry-After
			if tc.retryAfter == "600" {
				want = 10 * time.Minute
			}
			require.Equal(t, want, wait)
			require.Equal(t, 1, f.Count("GET contents"), "not called again during the limit")
		})
	}
}
