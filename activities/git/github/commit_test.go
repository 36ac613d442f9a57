package github

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/internal/gittest"
)

// provGitHubProvider is a provider pointed at the fake, with the fake's token.
func provGitHubProvider(t *testing.T, f *provFakeGitHub) *provider {
	t.Helper()
	return provGitHubProviderWithToken(t, f, f.token)
}

func TestCommit(t *testing.T) {
	t.Parallel()
	msg := "promote time-service v1.2.3 to staging\n\nworkflow: promote-time-service-v1.2.3\n"
	bump := git.Change{Path: gittest.ProdApp, Edit: gittest.Image("idp/localtime:v1.2.3"), Message: msg}
	tests := []struct {
		name      string
		branch    string
		change    git.Change
		intercept func(f *provFakeGitHub) func(w http.ResponseWriter, r *http.Request, route string) bool
		check     func(t *testing.T, f *provFakeGitHub, seed string, res git.CommitResult, err error)
	}{
		{
			name: "writes the edited file with the message", branch: "main", change: bump,
			check: func(t *testing.T, f *provFakeGitHub, seed string, res git.CommitResult, err error) {
				require.NoError(t, err)
				head := f.head("main")
				require.Equal(t, git.CommitResult{Commit: head.sha, Changed: true}, res)
				require.Equal(t, msg, head.message)
				require.Equal(t, []string{seed}, head.parents)
				require.Equal(t, "name: time-service\nimage: idp/localtime:v1.2.3\n", head.files[gittest.ProdApp])
				require.Equal(t, gittest.Seed[gittest.DevApp], head.files[gittest.DevApp])
				require.Equal(t, 1, f.count("PUT contents"))
			},
		},
		{
			name: "creates a missing file", branch: "main",
			change: git.Change{Path: "argocd/applications/qa/version-service.yaml", Edit: gittest.Image("idp/version:v1"), Message: "qa"},
			check: func(t *testing.T, f *provFakeGitHub, _ string, res git.CommitResult, err error) {
				require.NoError(t, err)
				require.True(t, res.Changed)
				require.Equal(t, "image: idp/version:v1\n", f.file("main", "argocd/applications/qa/version-service.yaml"))
			},
		},
		{
			name: "an edit that changes nothing writes nothing", branch: "main",
			change: git.Change{Path: gittest.ProdApp, Edit: gittest.Image("idp/localtime:v1.0.0"), Message: "noop"},
			check: func(t *testing.T, f *provFakeGitHub, seed string, res git.CommitResult, err error) {
				require.NoError(t, err)
				require.Equal(t, git.CommitResult{Commit: seed}, res)
				require.Zero(t, f.count("PUT contents"))
			},
		},
		{
			name: "409 on the first write: re-reads the moved branch and re-applies the edit", branch: "main", change: bump,
			intercept: func(f *provFakeGitHub) func(w http.ResponseWriter, r *http.Request, route string) bool {
				return func(w http.ResponseWriter, r *http.Request, route string) bool {
					if route != "PUT contents" || f.calls[route] != 1 {
						return false
					}
					// Someone else changed the same file just before our write landed.
					f.commitFile("main", gittest.ProdApp, f.commits[f.branches["main"]].files[gittest.ProdApp]+"replicas: 2\n", "scale prod")
					provJSON(w, http.StatusConflict, map[string]any{"message": "is at abc but expected def"})
					return true
				}
			},
			check: func(t *testing.T, f *provFakeGitHub, _ string, res git.CommitResult, err error) {
				require.NoError(t, err)
				require.True(t, res.Changed)
				require.Equal(t, 2, f.count("PUT contents"))
				head := f.head("main")
				require.Equal(t, res.Commit, head.sha)
				require.Equal(t, "name: time-service\nimage: idp/localtime:v1.2.3\nreplicas: 2\n", head.files[gittest.ProdApp], "both changes kept")
				require.Equal(t, "scale prod", f.commits[head.parents[0]].message)
			},
		},
		{
			name: "502 then success is retried", branch: "main", change: bump,
			intercept: func(f *provFakeGitHub) func(w http.ResponseWriter, r *http.Request, route string) bool {
				return func(w http.ResponseWriter, r *http.Request, route string) bool {
					if route == "GET ref" && f.calls[route] == 1 {
						provJSON(w, http.StatusBadGateway, map[string]any{"message": "Server Error"})
						return true
					}
					return false
				}
			},
			check: func(t *testing.T, f *provFakeGitHub, _ string, res git.CommitResult, err error) {
				require.NoError(t, err)
				require.True(t, res.Changed)
				require.Equal(t, 2, f.count("GET ref"))
				require.Equal(t, 1, f.count("PUT contents"))
			},
		},
		{
			name: "a write that landed despite a 502 is reported as ours", branch: "main", change: bump,
			intercept: func(f *provFakeGitHub) func(w http.ResponseWriter, r *http.Request, route string) bool {
				return func(w http.ResponseWriter, r *http.Request, route string) bool {
					if route != "PUT contents" || f.calls[route] != 1 {
						return false
					}
					f.putContents(httptest.NewRecorder(), r)
					provJSON(w, http.StatusBadGateway, map[string]any{"message": "Server Error"})
					return true
				}
			},
			check: func(t *testing.T, f *provFakeGitHub, _ string, res git.CommitResult, err error) {
				require.NoError(t, err)
				require.Equal(t, git.CommitResult{Commit: f.head("main").sha, Changed: true}, res)
				require.Equal(t, msg, f.head("main").message)
				require.Equal(t, 1, f.count("PUT contents"), "the retry finds the edit in place")
			},
		},
		{
			name: "a secondary rate limit is waited out", branch: "main", change: bump,
			intercept: func(f *provFakeGitHub) func(w http.ResponseWriter, r *http.Request, route string) bool {
				return func(w http.ResponseWriter, r *http.Request, route string) bool {
					if route != "GET contents" || f.calls[route] != 1 {
						return false
					}
					w.Header().Set("Retry-After", "0")
					provJSON(w, http.StatusForbidden, map[string]any{"message": "You have exceeded a secondary rate limit.",
						"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"})
					return true
				}
			},
			check: func(t *testing.T, f *provFakeGitHub, _ string, res git.CommitResult, err error) {
				require.NoError(t, err)
				require.True(t, res.Changed)
				require.Equal(t, 2, f.count("GET contents"))
			},
		},
		{
			name: "429 too many requests is waited out", branch: "main", change: bump,
			intercept: func(f *provFakeGitHub) func(w http.ResponseWriter, r *http.Request, route string) bool {
				return func(w http.ResponseWriter, r *http.Request, route string) bool {
					if route != "PUT contents" || f.calls[route] != 1 {
						return false
					}
					w.Header().Set("Retry-After", "0")
					provJSON(w, http.StatusTooManyRequests, map[string]any{"message": "Too many requests"})
					return true
				}
			},
			check: func(t *testing.T, f *provFakeGitHub, _ string, res git.CommitResult, err error) {
				require.NoError(t, err)
				require.True(t, res.Changed)
				require.Equal(t, 2, f.count("PUT contents"))
			},
		},
		{
			name: "a server that keeps failing gives up", branch: "main", change: bump,
			intercept: func(*provFakeGitHub) func(w http.ResponseWriter, r *http.Request, route string) bool {
				return func(w http.ResponseWriter, _ *http.Request, _ string) bool {
					provJSON(w, http.StatusServiceUnavailable, map[string]any{"message": "Unavailable"})
					return true
				}
			},
			check: func(t *testing.T, f *provFakeGitHub, _ string, _ git.CommitResult, err error) {
				require.ErrorContains(t, err, "giving up after")
				require.NotErrorIs(t, err, git.ErrAuth)
				require.Equal(t, gittest.FastRetry.Attempts, f.count("GET ref"))
			},
		},
		{
			name: "an unknown branch is git.ErrNotFound", branch: "release", change: bump,
			check: func(t *testing.T, _ *provFakeGitHub, _ string, _ git.CommitResult, err error) {
				require.ErrorIs(t, err, git.ErrNotFound)
				require.ErrorIs(t, err, git.ErrUnknownBranch)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := provNewFakeGitHub(t)
			if tc.intercept != nil {
				f.intercept = tc.intercept(f)
			}
			seed := f.head("main").sha
			res, err := provGitHubProvider(t, f).Commit(context.Background(), tc.branch, tc.change)
			tc.check(t, f, seed, res, err)
		})
	}
}
