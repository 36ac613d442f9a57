package github

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/github/githubtest"
	"github.com/alexpermiakov/idp/activities/git/internal/gittest"
)

// provGitHubProvider is a provider pointed at the fake, with the fake's token.
func provGitHubProvider(t *testing.T, f *githubtest.Server) *provider {
	t.Helper()
	return provGitHubProviderWithToken(t, f, f.Token)
}

func TestCommit(t *testing.T) {
	t.Parallel()
	msg := "promote time-service v1.2.3 to staging\n\nworkflow: promote-time-service-v1.2.3\n"
	bump := git.Change{Path: gittest.ProdApp, Edit: gittest.Image("idp/localtime:v1.2.3"), Message: msg}
	tests := []struct {
		name      string
		branch    string
		change    git.Change
		intercept func(f *githubtest.Server) func(w http.ResponseWriter, r *http.Request, route string) bool
		faults    map[string][]githubtest.Fault // injected by route
		check     func(t *testing.T, f *githubtest.Server, seed string, res git.CommitResult, err error)
	}{
		{
			name: "writes the edited file with the message", branch: "main", change: bump,
			check: func(t *testing.T, f *githubtest.Server, seed string, res git.CommitResult, err error) {
				require.NoError(t, err)
				head := f.Head("main")
				require.Equal(t, git.CommitResult{Commit: head.SHA, Changed: true}, res)
				require.Equal(t, msg, head.Message)
				require.Equal(t, []string{seed}, head.Parents)
				require.Equal(t, "name: time-service\nimage: idp/localtime:v1.2.3\n", head.Files[gittest.ProdApp])
				require.Equal(t, gittest.Seed[gittest.DevApp], head.Files[gittest.DevApp])
				require.Equal(t, 1, f.Count("PUT contents"))
			},
		},
		{
			name: "creates a missing file", branch: "main",
			change: git.Change{Path: "argocd/applications/qa/version-service.yaml", Edit: gittest.Image("idp/version:v1"), Message: "qa"},
			check: func(t *testing.T, f *githubtest.Server, _ string, res git.CommitResult, err error) {
				require.NoError(t, err)
				require.True(t, res.Changed)
				require.Equal(t, "image: idp/version:v1\n", f.File("main", "argocd/applications/qa/version-service.yaml"))
			},
		},
		{
			name: "an edit that changes nothing writes nothing", branch: "main",
			change: git.Change{Path: gittest.ProdApp, Edit: gittest.Image("idp/localtime:v1.0.0"), Message: "noop"},
			check: func(t *testing.T, f *githubtest.Server, seed string, res git.CommitResult, err error) {
				require.NoError(t, err)
				require.Equal(t, git.CommitResult{Commit: seed}, res)
				require.Zero(t, f.Count("PUT contents"))
			},
		},
		{
			name: "409 on the first write: re-reads the moved branch and re-applies the edit", branch: "main", change: bump,
			intercept: func(f *githubtest.Server) func(w http.ResponseWriter, r *http.Request, route string) bool {
				return func(w http.ResponseWriter, r *http.Request, route string) bool {
					if route != "PUT contents" || f.Calls[route] != 1 {
						return false
					}
					// Someone else changed the same file just before our write landed.
					f.CommitFile("main", gittest.ProdApp, f.Commits[f.Branches["main"]].Files[gittest.ProdApp]+"replicas: 2\n", "scale prod")
					githubtest.WriteJSON(w, http.StatusConflict, map[string]any{"message": "is at abc but expected def"})
					return true
				}
			},
			check: func(t *testing.T, f *githubtest.Server, _ string, res git.CommitResult, err error) {
				require.NoError(t, err)
				require.True(t, res.Changed)
				require.Equal(t, 2, f.Count("PUT contents"))
				head := f.Head("main")
				require.Equal(t, res.Commit, head.SHA)
				require.Equal(t, "name: time-service\nimage: idp/localtime:v1.2.3\nreplicas: 2\n", head.Files[gittest.ProdApp], "both changes kept")
				require.Equal(t, "scale prod", f.Commits[head.Parents[0]].Message)
			},
		},
		{
			name: "502 then success is retried", branch: "main", change: bump,
			intercept: func(f *githubtest.Server) func(w http.ResponseWriter, r *http.Request, route string) bool {
				return func(w http.ResponseWriter, r *http.Request, route string) bool {
					if route == "GET ref" && f.Calls[route] == 1 {
						githubtest.WriteJSON(w, http.StatusBadGateway, map[string]any{"message": "Server Error"})
						return true
					}
					return false
				}
			},
			check: func(t *testing.T, f *githubtest.Server, _ string, res git.CommitResult, err error) {
				require.NoError(t, err)
				require.True(t, res.Changed)
				require.Equal(t, 2, f.Count("GET ref"))
				require.Equal(t, 1, f.Count("PUT contents"))
			},
		},
		{
			name: "a write that landed despite a 502 is reported as ours", branch: "main", change: bump,
			faults: map[string][]githubtest.Fault{"PUT contents": {{Status: http.StatusBadGateway, Message: "Server Error", After: true}}},
			check: func(t *testing.T, f *githubtest.Server, _ string, res git.CommitResult, err error) {
				require.NoError(t, err)
				require.Equal(t, git.CommitResult{Commit: f.Head("main").SHA, Changed: true}, res)
				require.Equal(t, msg, f.Head("main").Message)
				require.Equal(t, 1, f.Count("PUT contents"), "the retry finds the edit in place")
			},
		},
		{
			name: "a secondary rate limit is waited out", branch: "main", change: bump,
			intercept: func(f *githubtest.Server) func(w http.ResponseWriter, r *http.Request, route string) bool {
				return func(w http.ResponseWriter, r *http.Request, route string) bool {
					if route != "GET contents" || f.Calls[route] != 1 {
						return false
					}
					w.Header().Set("Retry-After", "0")
					githubtest.WriteJSON(w, http.StatusForbidden, map[string]any{"message": "You have exceeded a secondary rate limit.",
						"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"})
					return true
				}
			},
			check: func(t *testing.T, f *githubtest.Server, _ string, res git.CommitResult, err error) {
				require.NoError(t, err)
				require.True(t, res.Changed)
				require.Equal(t, 2, f.Count("GET contents"))
			},
		},
		{
			name: "429 too many requests is waited out", branch: "main", change: bump,
			intercept: func(f *githubtest.Server) func(w http.ResponseWriter, r *http.Request, route string) bool {
				return func(w http.ResponseWriter, r *http.Request, route string) bool {
					if route != "PUT contents" || f.Calls[route] != 1 {
						return false
					}
					w.Header().Set("Retry-After", "0")
					githubtest.WriteJSON(w, http.StatusTooManyRequests, map[string]any{"message": "Too many requests"})
					return true
				}
			},
			check: func(t *testing.T, f *githubtest.Server, _ string, res git.CommitResult, err error) {
				require.NoError(t, err)
				require.True(t, res.Changed)
				require.Equal(t, 2, f.Count("PUT contents"))
			},
		},
		{
			name: "a server that keeps failing gives up", branch: "main", change: bump,
			intercept: func(*githubtest.Server) func(w http.ResponseWriter, r *http.Request, route string) bool {
				return func(w http.ResponseWriter, _ *http.Request, _ string) bool {
					githubtest.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"message": "Unavailable"})
					return true
				}
			},
			check: func(t *testing.T, f *githubtest.Server, _ string, _ git.CommitResult, err error) {
				require.ErrorContains(t, err, "giving up after")
				require.NotErrorIs(t, err, git.ErrAuth)
				require.Equal(t, gittest.FastRetry.Attempts, f.Count("GET ref"))
			},
		},
		{
			name: "an unknown branch is git.ErrNotFound", branch: "release", change: bump,
			check: func(t *testing.T, _ *githubtest.Server, _ string, _ git.CommitResult, err error) {
				require.ErrorIs(t, err, git.ErrNotFound)
				require.ErrorIs(t, err, git.ErrUnknownBranch)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := githubtest.New(t, gittest.Seed)
			if tc.intercept != nil {
				f.Intercept = tc.intercept(f)
			}
			for route, faults := range tc.faults {
				f.Inject(route, faults...)
			}
			seed := f.Head("main").SHA
			res, err := provGitHubProvider(t, f).Commit(context.Background(), tc.branch, tc.change)
			tc.check(t, f, seed, res, err)
		})
	}
}
