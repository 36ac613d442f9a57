// Package github is the git.Provider for repositories on GitHub (github.com or GitHub
// Enterprise), through the REST API with go-github: commits go through the contents API (the
// blob sha makes each write a compare-and-swap on the file), proposal branches are Git refs,
// and proposals are pull requests merged by GitHub.
//
// The provider reaches GitHub only through githubClient, the few go-github calls it makes,
// and authenticates with the token or GitHub App from git.Options.
package github

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/internal/redact"
	"github.com/alexpermiakov/idp/activities/git/internal/retry"
)

// githubClient is the part of the GitHub API the provider uses; clientWrapper implements it
// with go-github.
type githubClient interface {
	GetRef(ctx context.Context, owner, repo, ref string) (*github.Reference, *github.Response, error)
	CreateRef(ctx context.Context, owner, repo string, ref *github.Reference) (*github.Reference, *github.Response, error)
	UpdateRef(ctx context.Context, owner, repo string, ref *github.Reference, force bool) (*github.Reference, *github.Response, error)
	GetCommit(ctx context.Context, owner, repo, sha string) (*github.Commit, *github.Response, error)
	GetContents(ctx context.Context, owner, repo, path string, opts *github.RepositoryContentGetOptions) (*github.RepositoryContent, []*github.RepositoryContent, *github.Response, error)
	UpdateFile(ctx context.Context, owner, repo, path string, opts *github.RepositoryContentFileOptions) (*github.RepositoryContentResponse, *github.Response, error)
	ListPullRequests(ctx context.Context, owner, repo string, opts *github.PullRequestListOptions) ([]*github.PullRequest, *github.Response, error)
	GetPullRequest(ctx context.Context, owner, repo string, number int) (*github.PullRequest, *github.Response, error)
	CreatePullRequest(ctx context.Context, owner, repo string, pull *github.NewPullRequest) (*github.PullRequest, *github.Response, error)
	EditPullRequest(ctx context.Context, owner, repo string, number int, pull *github.PullRequest) (*github.PullRequest, *github.Response, error)
	MergePullRequest(ctx context.Context, owner, repo string, number int, commitMessage string, opts *github.PullRequestOptions) (*github.PullRequestMergeResult, *github.Response, error)
	CompareCommits(ctx context.Context, owner, repo, base, head string, opts *github.ListOptions) (*github.CommitsComparison, *github.Response, error)
	ListReviews(ctx context.Context, owner, repo string, number int, opts *github.ListOptions) ([]*github.PullRequestReview, *github.Response, error)
	ListDeployments(ctx context.Context, owner, repo string, opts *github.DeploymentsListOptions) ([]*github.Deployment, *github.Response, error)
	CreateDeployment(ctx context.Context, owner, repo string, req *github.DeploymentRequest) (*github.Deployment, *github.Response, error)
	CreateDeploymentStatus(ctx context.Context, owner, repo string, id int64, req *github.DeploymentStatusRequest) (*github.DeploymentStatus, *github.Response, error)
}

// clientWrapper is githubClient over a go-github client's services.
type clientWrapper struct{ c *github.Client }

func (w clientWrapper) GetRef(ctx context.Context, owner, repo, ref string) (*github.Reference, *github.Response, error) {
	return w.c.Git.GetRef(ctx, owner, repo, ref)
}

func (w clientWrapper) CreateRef(ctx context.Context, owner, repo string, ref *github.Reference) (*github.Reference, *github.Response, error) {
	return w.c.Git.CreateRef(ctx, owner, repo, ref)
}

func (w clientWrapper) UpdateRef(ctx context.Context, owner, repo string, ref *github.Reference, force bool) (*github.Reference, *github.Response, error) {
	return w.c.Git.UpdateRef(ctx, owner, repo, ref, force)
}

func (w clientWrapper) GetCommit(ctx context.Context, owner, repo, sha string) (*github.Commit, *github.Response, error) {
	return w.c.Git.GetCommit(ctx, owner, repo, sha)
}

func (w clientWrapper) GetContents(ctx context.Context, owner, repo, path string, opts *github.RepositoryContentGetOptions) (*github.RepositoryContent, []*github.RepositoryContent, *github.Response, error) {
	return w.c.Repositories.GetContents(ctx, owner, repo, path, opts)
}

func (w clientWrapper) UpdateFile(ctx context.Context, owner, repo, path string, opts *github.RepositoryContentFileOptions) (*github.RepositoryContentResponse, *github.Response, error) {
	return w.c.Repositories.UpdateFile(ctx, owner, repo, path, opts)
}

func (w clientWrapper) ListPullRequests(ctx context.Context, owner, repo string, opts *github.PullRequestListOptions) ([]*github.PullRequest, *github.Response, error) {
	return w.c.PullRequests.List(ctx, owner, repo, opts)
}

func (w clientWrapper) GetPullRequest(ctx context.Context, owner, repo string, number int) (*github.PullRequest, *github.Response, error) {
	return w.c.PullRequests.Get(ctx, owner, repo, number)
}

func (w clientWrapper) CreatePullRequest(ctx context.Context, owner, repo string, pull *github.NewPullRequest) (*github.PullRequest, *github.Response, error) {
	return w.c.PullRequests.Create(ctx, owner, repo, pull)
}

func (w clientWrapper) EditPullRequest(ctx context.Context, owner, repo string, number int, pull *github.PullRequest) (*github.PullRequest, *github.Response, error) {
	return w.c.PullRequests.Edit(ctx, owner, repo, number, pull)
}

func (w clientWrapper) MergePullRequest(ctx context.Context, owner, repo string, number int, commitMessage string, opts *github.PullRequestOptions) (*github.PullRequestMergeResult, *github.Response, error) {
	return w.c.PullRequests.Merge(ctx, owner, repo, number, commitMessage, opts)
}

func (w clientWrapper) CompareCommits(ctx context.Context, owner, repo, base, head string, opts *github.ListOptions) (*github.CommitsComparison, *github.Response, error) {
	return w.c.Repositories.CompareCommits(ctx, owner, repo, base, head, opts)
}

func (w clientWrapper) ListReviews(ctx context.Context, owner, repo string, number int, opts *github.ListOptions) ([]*github.PullRequestReview, *github.Response, error) {
	return w.c.PullRequests.ListReviews(ctx, owner, repo, number, opts)
}

// provider writes to one GitHub repository.
type provider struct {
	owner, repo string
	client      githubClient
	// author signs commits when set; unset, GitHub records the token's own identity.
	author git.Author
	token  string // kept out of error messages
	retry  retry.Policy
	// rateLimitMaxWait is the longest a rate limit is waited out in place; beyond it the
	// error goes back to the caller (the activity's retry policy).
	rateLimitMaxWait time.Duration
}

// DefaultAPIURL is the public GitHub API, used when Options.APIURL is empty.
const DefaultAPIURL = "https://api.github.com/"

// New returns the provider for repo, given as owner/name or as a GitHub clone URL
// (https://github.com/owner/name.git, git@github.com:owner/name.git). It authenticates as
// opts.App when its ID is set, else with opts.Token; with neither it fails with git.ErrAuth.
// opts.APIURL points it at GitHub Enterprise (https://HOST/api/v3/) or a test server.
func New(repo string, opts git.Options) (git.Provider, error) {
	api := opts.APIURL
	if api == "" {
		api = DefaultAPIURL
	}
	hc, err := httpClient(api, opts)
	if err != nil {
		return nil, err
	}
	p, err := newProvider(repoSlug(repo), api, hc)
	if err != nil {
		return nil, err
	}
	p.token = opts.Token
	if opts.Author != (git.Author{}) {
		p.author = opts.Author.WithDefaults()
	}
	return p, nil
}

// newProvider talks to the repository slug (owner/name) at API base URL api through hc,
// which must add the credentials.
func newProvider(slug, api string, hc *http.Client) (*provider, error) {
	owner, name, ok := strings.Cut(slug, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("github provider needs the repository as owner/name, got %q", slug)
	}
	base, err := apiBaseURL(api)
	if err != nil {
		return nil, err
	}
	c := github.NewClient(hc)
	c.BaseURL = base
	return &provider{owner: owner, repo: name, client: clientWrapper{c}, retry: retry.Default, rateLimitMaxWait: time.Minute}, nil
}

func apiBaseURL(api string) (*url.URL, error) {
	u, err := url.Parse(api)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid GitHub API URL %q", redact.URL(api))
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// repoSlug is repo when it already is owner/name, else the slug in a GitHub clone URL, else "".
func repoSlug(repo string) string {
	if strings.Count(repo, "/") == 1 && !strings.Contains(repo, ":") && !strings.Contains(repo, "github.com") {
		return repo
	}
	raw := strings.TrimSuffix(strings.TrimSuffix(repo, "/"), ".git")
	if i := strings.Index(raw, "github.com"); i >= 0 {
		rest := strings.TrimLeft(raw[i+len("github.com"):], ":/")
		if strings.Count(rest, "/") == 1 {
			return rest
		}
	}
	return ""
}

// errNoCredentials is New's refusal to build a provider that could only fail later.
var errNoCredentials = fmt.Errorf("%w: no GitHub credentials: give a token or a GitHub App", git.ErrAuth)

// httpClient returns an HTTP client that authenticates as the GitHub App when opts.App.ID is
// set, else with opts.Token.
func httpClient(api string, opts git.Options) (*http.Client, error) {
	if opts.App.ID != 0 {
		src, err := newAppTokenSource(opts.App, api)
		if err != nil {
			return nil, err
		}
		return &http.Client{Timeout: time.Minute, Transport: &tokenTransport{token: src.token, invalidate: src.invalidate}}, nil
	}
	if opts.Token == "" {
		return nil, errNoCredentials
	}
	static := func(context.Context) (string, error) { return opts.Token, nil }
	return &http.Client{Timeout: time.Minute, Transport: &tokenTransport{token: static}}, nil
}
