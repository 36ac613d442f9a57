package git

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v74/github"

	"github.com/alexpermiakov/idp/internal/config"
)

// The narrow parts of go-github the provider uses; *github.GitService, *github.RepositoriesService
// and *github.PullRequestsService satisfy them.
type (
	githubGitAPI interface {
		GetRef(ctx context.Context, owner, repo, ref string) (*github.Reference, *github.Response, error)
		CreateRef(ctx context.Context, owner, repo string, ref *github.Reference) (*github.Reference, *github.Response, error)
		UpdateRef(ctx context.Context, owner, repo string, ref *github.Reference, force bool) (*github.Reference, *github.Response, error)
		GetCommit(ctx context.Context, owner, repo, sha string) (*github.Commit, *github.Response, error)
	}
	githubContentsAPI interface {
		GetContents(ctx context.Context, owner, repo, path string, opts *github.RepositoryContentGetOptions) (*github.RepositoryContent, []*github.RepositoryContent, *github.Response, error)
		UpdateFile(ctx context.Context, owner, repo, path string, opts *github.RepositoryContentFileOptions) (*github.RepositoryContentResponse, *github.Response, error)
	}
	githubPullsAPI interface {
		List(ctx context.Context, owner, repo string, opts *github.PullRequestListOptions) ([]*github.PullRequest, *github.Response, error)
		Get(ctx context.Context, owner, repo string, number int) (*github.PullRequest, *github.Response, error)
		Create(ctx context.Context, owner, repo string, pull *github.NewPullRequest) (*github.PullRequest, *github.Response, error)
		Edit(ctx context.Context, owner, repo string, number int, pull *github.PullRequest) (*github.PullRequest, *github.Response, error)
		Merge(ctx context.Context, owner, repo string, number int, commitMessage string, opts *github.PullRequestOptions) (*github.PullRequestMergeResult, *github.Response, error)
		UpdateBranch(ctx context.Context, owner, repo string, number int, opts *github.PullRequestBranchUpdateOptions) (*github.PullRequestBranchUpdateResponse, *github.Response, error)
	}
)

// githubProvider writes through the GitHub REST API: the Contents API for commits (the blob
// sha makes each write a compare-and-swap on the file), Git refs for proposal branches, and
// pull requests for proposals.
type githubProvider struct {
	owner, repo string
	git         githubGitAPI
	contents    githubContentsAPI
	pulls       githubPullsAPI
	retry       retryPolicy
	// rateLimitMaxWait is the longest a rate limit is waited out in place; beyond it the
	// error goes back to the caller (the activity's retry policy).
	rateLimitMaxWait time.Duration
}

// defaultGitHubAPI is the public GitHub API; $IDP_GITHUB_API_URL overrides it.
const defaultGitHubAPI = "https://api.github.com/"

// newGitHubProviderFromEnv builds the provider for cfg.GitHub with credentials and API URL
// from the environment.
func newGitHubProviderFromEnv(cfg config.Repository) (Provider, error) {
	slug := cfg.GitHub
	if slug == "" {
		slug = slugFromURL(cfg.URL)
	}
	api := os.Getenv("IDP_GITHUB_API_URL")
	if api == "" {
		api = defaultGitHubAPI
	}
	hc, err := githubHTTPClientFromEnv(api)
	if err != nil {
		return nil, err
	}
	return newGitHubProvider(slug, api, hc)
}

// newGitHubProvider talks to the repository slug (owner/name) at API base URL api through hc,
// which must add the credentials.
func newGitHubProvider(slug, api string, hc *http.Client) (*githubProvider, error) {
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
	return &githubProvider{
		owner: owner, repo: name,
		git: c.Git, contents: c.Repositories, pulls: c.PullRequests,
		retry: defaultRetry, rateLimitMaxWait: time.Minute,
	}, nil
}

func apiBaseURL(api string) (*url.URL, error) {
	u, err := url.Parse(api)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid GitHub API URL %q (IDP_GITHUB_API_URL)", redactURL(api))
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// slugFromURL derives owner/name from a GitHub clone URL, or returns "".
func slugFromURL(raw string) string {
	raw = strings.TrimSuffix(strings.TrimSuffix(raw, "/"), ".git")
	if i := strings.Index(raw, "github.com"); i >= 0 {
		rest := strings.TrimLeft(raw[i+len("github.com"):], ":/")
		if strings.Count(rest, "/") == 1 {
			return rest
		}
	}
	return ""
}

// githubHTTPClientFromEnv returns an HTTP client that authenticates as the GitHub App when
// $IDP_GITHUB_APP_ID is set, else with $IDP_GIT_TOKEN or $GITHUB_TOKEN.
func githubHTTPClientFromEnv(api string) (*http.Client, error) {
	if appID := os.Getenv("IDP_GITHUB_APP_ID"); appID != "" {
		src, err := appTokenSourceFromEnv(appID, api)
		if err != nil {
			return nil, err
		}
		return &http.Client{Timeout: time.Minute, Transport: &tokenTransport{token: src.token, invalidate: src.invalidate}}, nil
	}
	for _, name := range []string{"IDP_GIT_TOKEN", "GITHUB_TOKEN"} {
		if tok := os.Getenv(name); tok != "" {
			static := func(context.Context) (string, error) { return tok, nil }
			return &http.Client{Timeout: time.Minute, Transport: &tokenTransport{token: static}}, nil
		}
	}
	return nil, fmt.Errorf("%w: no GitHub credentials in the worker's environment: set IDP_GIT_TOKEN or GITHUB_TOKEN, "+
		"or IDP_GITHUB_APP_ID, IDP_GITHUB_APP_PRIVATE_KEY_FILE and IDP_GITHUB_APP_INSTALLATION_ID", ErrAuth)
}

// tokenTransport adds a bearer token to every request.
type tokenTransport struct {
	base       http.RoundTripper
	token      func(context.Context) (string, error)
	invalidate func() // drops a cached token the server refused
}

func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.token(req.Context())
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+tok)
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusUnauthorized && t.invalidate != nil {
		t.invalidate()
	}
	return resp, err
}

// appTokenSource mints GitHub App installation tokens: a short-lived JWT signed with the
// App's private key buys an installation token, which is cached until shortly before it
// expires.
type appTokenSource struct {
	appID        string
	installation int64
	key          *rsa.PrivateKey
	api          *url.URL
	hc           *http.Client
	now          func() time.Time

	mu      sync.Mutex
	cached  string
	expires time.Time
}

func appTokenSourceFromEnv(appID, api string) (*appTokenSource, error) {
	keyFile := os.Getenv("IDP_GITHUB_APP_PRIVATE_KEY_FILE")
	inst := os.Getenv("IDP_GITHUB_APP_INSTALLATION_ID")
	if keyFile == "" || inst == "" {
		return nil, fmt.Errorf("%w: IDP_GITHUB_APP_ID needs IDP_GITHUB_APP_PRIVATE_KEY_FILE and IDP_GITHUB_APP_INSTALLATION_ID", ErrAuth)
	}
	if _, err := strconv.ParseInt(appID, 10, 64); err != nil {
		return nil, fmt.Errorf("%w: IDP_GITHUB_APP_ID must be a number", ErrAuth)
	}
	instID, err := strconv.ParseInt(inst, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: IDP_GITHUB_APP_INSTALLATION_ID must be a number", ErrAuth)
	}
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the GitHub App private key: %w", ErrAuth, err)
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM(pem)
	if err != nil {
		// The parse error never quotes the key, but keep it short anyway.
		return nil, fmt.Errorf("%w: %s is not an RSA private key in PEM form", ErrAuth, keyFile)
	}
	base, err := apiBaseURL(api)
	if err != nil {
		return nil, err
	}
	return &appTokenSource{appID: appID, installation: instID, key: key, api: base,
		hc: &http.Client{Timeout: time.Minute}, now: time.Now}, nil
}

func (a *appTokenSource) token(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if a.cached != "" && now.Before(a.expires.Add(-2*time.Minute)) {
		return a.cached, nil
	}
	// GitHub allows at most 10 minutes and recommends back-dating iat for clock drift.
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		Issuer:    a.appID,
		IssuedAt:  jwt.NewNumericDate(now.Add(-time.Minute)),
		ExpiresAt: jwt.NewNumericDate(now.Add(9 * time.Minute)),
	}).SignedString(a.key)
	if err != nil {
		return "", fmt.Errorf("signing the GitHub App JWT: %w", err)
	}
	c := github.NewClient(a.hc).WithAuthToken(signed)
	c.BaseURL = a.api
	it, _, err := c.Apps.CreateInstallationToken(ctx, a.installation, nil)
	if err != nil {
		switch ghStatus(err) {
		case http.StatusUnauthorized, http.StatusForbidden:
			return "", fmt.Errorf("%w: GitHub refused the App's JWT (check IDP_GITHUB_APP_ID and the private key): %w", ErrAuth, err)
		case http.StatusNotFound:
			return "", fmt.Errorf("%w: GitHub App installation %d: %w", ErrNotFound, a.installation, err)
		}
		return "", fmt.Errorf("getting a GitHub App installation token: %w", err)
	}
	a.cached, a.expires = it.GetToken(), it.GetExpiresAt().Time
	if a.expires.IsZero() {
		a.expires = now.Add(time.Hour)
	}
	return a.cached, nil
}

func (a *appTokenSource) invalidate() {
	a.mu.Lock()
	a.cached = ""
	a.mu.Unlock()
}

// ghStatus is the HTTP status of a GitHub API error, or 0.
func ghStatus(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

// ghMessage is GitHub's message in an API error.
func ghMessage(err error) string {
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		msg := er.Message
		for _, e := range er.Errors {
			msg += " " + e.Message
		}
		return msg
	}
	return ""
}

// classify adds context to a GitHub API error and sorts it: credentials refused → ErrAuth,
// missing → ErrNotFound, server errors, rate limits and network trouble → retry.
func (g *githubProvider) classify(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf(format, args...)
	var (
		rl    *github.RateLimitError
		abuse *github.AbuseRateLimitError
		re    *retryableError
	)
	switch {
	case errors.As(err, &re), errors.Is(err, ErrAuth), errors.Is(err, ErrNotFound):
		err = fmt.Errorf("%s: %w", msg, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("%s: %w", msg, err)
	case errors.As(err, &rl):
		wait := time.Until(rl.Rate.Reset.Time)
		err = fmt.Errorf("%s: %w", msg, err)
		if wait <= g.rateLimitMaxWait {
			err = &retryableError{err: err, after: wait}
		}
	case errors.As(err, &abuse):
		wait := abuse.GetRetryAfter()
		err = fmt.Errorf("%s: %w", msg, err)
		if wait <= g.rateLimitMaxWait {
			err = &retryableError{err: err, after: wait}
		}
	default:
		switch st := ghStatus(err); {
		case st == http.StatusUnauthorized || st == http.StatusForbidden:
			err = fmt.Errorf("%s: %w: %w", msg, ErrAuth, err)
		case st == http.StatusNotFound:
			err = fmt.Errorf("%s: %w: %w", msg, ErrNotFound, err)
		case st == http.StatusTooManyRequests: // a secondary rate limit, the newer way
			var er *github.ErrorResponse
			errors.As(err, &er)
			secs, _ := strconv.Atoi(er.Response.Header.Get("Retry-After"))
			err = fmt.Errorf("%s: %w", msg, err)
			if wait := time.Duration(secs) * time.Second; wait <= g.rateLimitMaxWait {
				err = &retryableError{err: err, after: wait}
			}
		case st >= 500, st == 0: // server trouble, or no answer at all
			err = retryLater(fmt.Errorf("%s: %w", msg, err))
		default:
			err = fmt.Errorf("%s: %w", msg, err)
		}
	}
	return scrubSecrets(err, "")
}

// branchHead returns the commit branch points at.
func (g *githubProvider) branchHead(ctx context.Context, branch string) (string, error) {
	ref, _, err := g.git.GetRef(ctx, g.owner, g.repo, "heads/"+branch)
	if ghStatus(err) == http.StatusNotFound {
		return "", fmt.Errorf("%w: %w: %q in %s/%s", ErrNotFound, ErrUnknownBranch, branch, g.owner, g.repo)
	}
	if err != nil {
		return "", g.classify(err, "reading branch %q of %s/%s", branch, g.owner, g.repo)
	}
	return ref.GetObject().GetSHA(), nil
}

// readFile returns path's content and blob sha at commit ref; exists is false when there is
// no such file.
func (g *githubProvider) readFile(ctx context.Context, path, ref string) (content []byte, blob string, exists bool, err error) {
	fc, _, _, err := g.contents.GetContents(ctx, g.owner, g.repo, path, &github.RepositoryContentGetOptions{Ref: ref})
	if ghStatus(err) == http.StatusNotFound {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, g.classify(err, "reading %s at %s", path, ref)
	}
	if fc == nil {
		return nil, "", false, fmt.Errorf("%s at %s is a directory", path, ref)
	}
	s, err := fc.GetContent()
	if err != nil {
		return nil, "", false, fmt.Errorf("reading %s at %s: %w", path, ref, err)
	}
	return []byte(s), fc.GetSHA(), true, nil
}

// putFile commits content as path on branch, replacing the blob blob ("" when creating the
// file). GitHub answers 409 or 422 when the file is no longer that blob, i.e. someone wrote
// it meanwhile: that is returned for a retry on the new head.
func (g *githubProvider) putFile(ctx context.Context, branch, path, blob string, content []byte, msg string) (string, error) {
	opts := &github.RepositoryContentFileOptions{Message: &msg, Content: content, Branch: &branch}
	if blob != "" {
		opts.SHA = &blob
	}
	if name, email, set := authorFromEnv(); set {
		who := &github.CommitAuthor{Name: &name, Email: &email}
		opts.Author, opts.Committer = who, who
	}
	res, _, err := g.contents.UpdateFile(ctx, g.owner, g.repo, path, opts)
	switch st := ghStatus(err); {
	case err == nil:
		return res.Commit.GetSHA(), nil
	case st == http.StatusConflict || st == http.StatusUnprocessableEntity:
		return "", retryLater(scrubSecrets(fmt.Errorf("writing %s on %s (the branch moved): %w", path, branch, err), ""))
	}
	return "", g.classify(err, "writing %s on %s", path, branch)
}

// unchanged reports whether an edit left a file as it was.
func unchanged(old []byte, exists bool, updated []byte) bool {
	return exists && bytes.Equal(old, updated) || !exists && updated == nil
}

// Commit implements Provider.
func (g *githubProvider) Commit(ctx context.Context, branch string, c Change) (CommitResult, error) {
	path, err := cleanRepoPath(c.Path)
	if err != nil {
		return CommitResult{}, err
	}
	var res CommitResult
	// A write that failed without an answer (5xx, timeout) may still have landed; if the edit
	// then turns out to be in place already, it was most likely ours.
	uncertain := false
	err = g.retry.do(ctx, func() error {
		ed, err := g.editAtHead(ctx, branch, path, c.Edit)
		if err != nil {
			return err
		}
		if ed.same {
			res = CommitResult{Commit: ed.tip, Changed: uncertain}
			return nil
		}
		sha, err := g.putFile(ctx, branch, path, ed.blob, ed.updated, c.Message)
		if err != nil {
			if st := ghStatus(err); st != http.StatusConflict && st != http.StatusUnprocessableEntity {
				uncertain = true
			}
			return err
		}
		res = CommitResult{Commit: sha, Changed: true}
		return nil
	})
	if err != nil {
		return CommitResult{}, fmt.Errorf("committing %s to %s: %w", path, branch, err)
	}
	return res, nil
}

// Propose implements Provider.
func (g *githubProvider) Propose(ctx context.Context, base, head string, c Change, title, body string) (Proposal, error) {
	path, err := cleanRepoPath(c.Path)
	if err != nil {
		return Proposal{}, err
	}
	if head == "" || head == base {
		return Proposal{}, fmt.Errorf("proposal branch %q must be set and differ from base %q", head, base)
	}
	var prop Proposal
	err = g.retry.do(ctx, func() error {
		ed, err := g.editAtHead(ctx, base, path, c.Edit)
		if err != nil {
			return err
		}
		baseTip, baseBlob, updated := ed.tip, ed.blob, ed.updated
		if ed.same {
			prop = Proposal{Base: base, Commit: baseTip}
			return nil
		}
		headTip, err := g.branchHead(ctx, head)
		if errors.Is(err, ErrNotFound) {
			if err := g.createBranch(ctx, head, baseTip); err != nil {
				return err
			}
			headTip = baseTip
		} else if err != nil {
			return err
		}
		commit := headTip
		cur, _, curExists, err := g.readFile(ctx, path, headTip)
		if err != nil {
			return err
		}
		if !curExists || !bytes.Equal(cur, updated) {
			// Start the branch over from base so the pull request holds exactly this change.
			if headTip != baseTip {
				ref := &github.Reference{Ref: github.Ptr("refs/heads/" + head), Object: &github.GitObject{SHA: &baseTip}}
				if _, _, err := g.git.UpdateRef(ctx, g.owner, g.repo, ref, true); err != nil {
					return g.classify(err, "resetting branch %q", head)
				}
			}
			if commit, err = g.putFile(ctx, head, path, baseBlob, updated, c.Message); err != nil {
				return err
			}
		}
		pr, err := g.findOrOpenPR(ctx, base, head, title, body)
		if err != nil {
			return err
		}
		prop = Proposal{Base: base, Head: head, Commit: commit, Number: pr.GetNumber(), URL: pr.GetHTMLURL()}
		return nil
	})
	if err != nil {
		return Proposal{}, fmt.Errorf("proposing %s on %s: %w", path, head, err)
	}
	return prop, nil
}

// edited is a file read at a branch's head with an edit applied to it.
type edited struct {
	tip, blob string
	updated   []byte
	// same is true when the edit changes nothing.
	same bool
}

// editAtHead reads path at branch's current head and applies edit.
func (g *githubProvider) editAtHead(ctx context.Context, branch, path string, edit Edit) (edited, error) {
	tip, err := g.branchHead(ctx, branch)
	if err != nil {
		return edited{}, err
	}
	old, blob, exists, err := g.readFile(ctx, path, tip)
	if err != nil {
		return edited{}, err
	}
	updated, err := edit(old)
	if err != nil {
		return edited{}, fmt.Errorf("editing %s: %w", path, err)
	}
	return edited{tip: tip, blob: blob, updated: updated, same: unchanged(old, exists, updated)}, nil
}

// createBranch creates branch at sha; a branch that appeared meanwhile means another attempt
// got there first, so the caller starts over and finds it.
func (g *githubProvider) createBranch(ctx context.Context, branch, sha string) error {
	ref := &github.Reference{Ref: github.Ptr("refs/heads/" + branch), Object: &github.GitObject{SHA: &sha}}
	_, _, err := g.git.CreateRef(ctx, g.owner, g.repo, ref)
	if ghStatus(err) == http.StatusUnprocessableEntity {
		return retryLater(scrubSecrets(fmt.Errorf("creating branch %q: %w", branch, err), ""))
	}
	return g.classify(err, "creating branch %q", branch)
}

// findOrOpenPR returns the open pull request from head into base, opening it if there is none.
func (g *githubProvider) findOrOpenPR(ctx context.Context, base, head, title, body string) (*github.PullRequest, error) {
	prs, _, err := g.pulls.List(ctx, g.owner, g.repo, &github.PullRequestListOptions{State: "open", Head: g.owner + ":" + head, Base: base})
	if err != nil {
		return nil, g.classify(err, "listing pull requests for %q", head)
	}
	if len(prs) > 0 {
		return prs[0], nil
	}
	pr, _, err := g.pulls.Create(ctx, g.owner, g.repo, &github.NewPullRequest{Title: &title, Head: &head, Base: &base, Body: &body})
	if ghStatus(err) == http.StatusUnprocessableEntity {
		// Usually "a pull request already exists": another attempt opened it; list again.
		return nil, retryLater(scrubSecrets(fmt.Errorf("opening a pull request for %q: %w", head, err), ""))
	}
	if err != nil {
		return nil, g.classify(err, "opening a pull request for %q", head)
	}
	return pr, nil
}

// UpdateProposal implements Provider.
func (g *githubProvider) UpdateProposal(ctx context.Context, p Proposal, body string) error {
	if p.Number == 0 {
		return nil
	}
	return g.retry.do(ctx, func() error {
		_, _, err := g.pulls.Edit(ctx, g.owner, g.repo, p.Number, &github.PullRequest{Body: &body})
		return g.classify(err, "updating pull request #%d", p.Number)
	})
}

// githubMergeMethods are tried in order; repositories may disable some of them. Squash comes
// first so base gets one commit carrying the proposal's message (and the workflow ID in it).
var githubMergeMethods = []string{"squash", "merge", "rebase"}

// Merge implements Provider. GitHub merges the pull request itself; when it refuses because
// the branch is behind base (405), the branch is updated from base and the merge retried.
func (g *githubProvider) Merge(ctx context.Context, p Proposal) (CommitResult, error) {
	if p.Number == 0 {
		return CommitResult{Commit: p.Commit}, nil
	}
	var (
		res     CommitResult
		method  int
		message *string
	)
	err := g.retry.do(ctx, func() error {
		pr, _, err := g.pulls.Get(ctx, g.owner, g.repo, p.Number)
		if err != nil {
			return g.classify(err, "reading pull request #%d", p.Number)
		}
		if pr.GetMerged() {
			res = CommitResult{Commit: pr.GetMergeCommitSHA(), Changed: true}
			return nil
		}
		if pr.GetState() == "closed" {
			return fmt.Errorf("%w: pull request #%d was closed without merging", ErrNotMergeable, p.Number)
		}
		if message == nil {
			message = github.Ptr(g.commitMessage(ctx, p, pr))
		}
		title, body := mergeText(githubMergeMethods[method], *message, p.Number)
		opts := &github.PullRequestOptions{MergeMethod: githubMergeMethods[method], CommitTitle: title, SHA: pr.GetHead().GetSHA()}
		r, _, err := g.pulls.Merge(ctx, g.owner, g.repo, p.Number, body, opts)
		if err == nil {
			res = CommitResult{Commit: r.GetSHA(), Changed: true}
			return nil
		}
		switch ghStatus(err) {
		case http.StatusMethodNotAllowed:
			if strings.Contains(strings.ToLower(ghMessage(err)), "not allowed") && method+1 < len(githubMergeMethods) {
				method++
				return retryLater(err)
			}
			return g.updateBranch(ctx, pr, err)
		case http.StatusConflict: // head moved between our read and the merge
			return retryLater(scrubSecrets(fmt.Errorf("merging pull request #%d: %w", p.Number, err), ""))
		}
		return g.classify(err, "merging pull request #%d", p.Number)
	})
	if err != nil {
		return CommitResult{}, fmt.Errorf("merging %s into %s: %w", p.Head, p.Base, err)
	}
	return res, nil
}

// commitMessage is the message of the proposal's commit (which carries the workflow ID), or
// the pull request's title if that commit cannot be read.
func (g *githubProvider) commitMessage(ctx context.Context, p Proposal, pr *github.PullRequest) string {
	if p.Commit != "" {
		if c, _, err := g.git.GetCommit(ctx, g.owner, g.repo, p.Commit); err == nil && c.GetMessage() != "" {
			return c.GetMessage()
		}
	}
	return pr.GetTitle()
}

// mergeText is the commit title and message for merging pull request n with method.
func mergeText(method, message string, n int) (title, body string) {
	switch method {
	case "squash":
		first, rest, _ := strings.Cut(message, "\n")
		return fmt.Sprintf("%s (#%d)", strings.TrimSpace(first), n), strings.TrimSpace(rest)
	case "merge":
		return "", message
	}
	return "", ""
}

// updateBranch asks GitHub to merge base into the pull request's branch after a refused
// merge (mergeErr), then has the caller retry: the update runs in the background.
func (g *githubProvider) updateBranch(ctx context.Context, pr *github.PullRequest, mergeErr error) error {
	_, _, err := g.pulls.UpdateBranch(ctx, g.owner, g.repo, pr.GetNumber(),
		&github.PullRequestBranchUpdateOptions{ExpectedHeadSHA: github.Ptr(pr.GetHead().GetSHA())})
	var accepted *github.AcceptedError
	switch {
	case err == nil, errors.As(err, &accepted):
		return retryLater(scrubSecrets(fmt.Errorf("merging pull request #%d (branch update requested): %w", pr.GetNumber(), mergeErr), ""))
	case ghStatus(err) == http.StatusUnprocessableEntity:
		if strings.Contains(strings.ToLower(ghMessage(err)), "conflict") {
			return scrubSecrets(fmt.Errorf("%w: pull request #%d conflicts with %s: %w", ErrNotMergeable, pr.GetNumber(), pr.GetBase().GetRef(), err), "")
		}
		// Already up to date (or head moved): the refusal has another cause, such as checks
		// still running; try again later.
		return retryLater(scrubSecrets(fmt.Errorf("merging pull request #%d: %w", pr.GetNumber(), mergeErr), ""))
	}
	return g.classify(err, "updating the branch of pull request #%d", pr.GetNumber())
}
