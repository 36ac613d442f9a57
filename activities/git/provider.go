package git

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/alexpermiakov/idp/internal/checkout"
	"github.com/alexpermiakov/idp/internal/config"
)

// Edit rewrites one file's content. It gets nil when the file does not exist yet (returning
// nil then leaves it absent). It must be deterministic so it can be re-applied on a newer base
// after a concurrent push.
type Edit func(old []byte) ([]byte, error)

// Change is one file edit with the commit message that records it.
type Change struct {
	// Path is the file's path in the repository, e.g. argocd/applications/prod/time-service.yaml.
	Path string
	// Edit computes the file's new content from its current content.
	Edit Edit
	// Message is the full commit message (the workflow puts its ID, service, version and
	// digest in it).
	Message string
}

// Provider writes changes to the platform repository, either as direct commits or as
// proposals (a branch and, on GitHub, a pull request) that are merged later.
//
// Errors the user must fix wrap ErrAuth (credentials refused), ErrNotFound (repository or
// branch missing) or ErrNotMergeable (the proposal conflicts with its base or was closed);
// anything else is worth retrying.
type Provider interface {
	// Commit applies the change on top of branch's head and pushes it. A push rejected as
	// non-fast-forward (someone else pushed meanwhile) re-reads the new head, re-applies the
	// edit and retries (bounded, with jitter). If the edit changes nothing, it returns the
	// current head with Changed=false.
	Commit(ctx context.Context, branch string, c Change) (CommitResult, error)
	// Propose creates or updates branch head from base with the change and, on GitHub, opens
	// a pull request titled title with body body, or finds the open one for that head. It is
	// idempotent: a retry finds the existing branch and pull request instead of making new
	// ones. If the edit changes nothing on base there is nothing to propose: the result has an
	// empty Head, Number 0 and base's head as Commit.
	Propose(ctx context.Context, base, head string, c Change, title, body string) (Proposal, error)
	// UpdateProposal rewrites the pull request's body (e.g. to list approvals); it does
	// nothing for plain Git and for empty proposals.
	UpdateProposal(ctx context.Context, p Proposal, body string) error
	// Merge merges the proposal into its base and returns the commit base then points at.
	// It is idempotent: an already merged proposal returns the existing merge commit. A base
	// that moved on is handled (git: the proposal's commit is re-created on the new base and
	// base fast-forwarded; GitHub: the branch is updated, then merged).
	Merge(ctx context.Context, p Proposal) (CommitResult, error)
}

// CommitResult is where a write left the branch.
type CommitResult struct {
	// Commit is the full hash of the commit that carries the change (or base's head when
	// nothing changed).
	Commit string
	// Changed is false when the edit was already in place and nothing was written.
	Changed bool
}

// Proposal is a change waiting to be merged: a branch and, on GitHub, its pull request. It is
// plain data so workflows can keep it and hand it back to UpdateProposal and Merge.
type Proposal struct {
	// Base is the branch the change goes into.
	Base string
	// Head is the branch holding the change; empty when there was nothing to propose.
	Head string
	// Commit is the head commit carrying the change.
	Commit string
	// Number is the pull request's number (0 for plain Git).
	Number int
	// URL is the pull request's web page (empty for plain Git).
	URL string
}

var (
	// ErrAuth means the remote refused the credentials (HTTP 401/403, bad GitHub App setup,
	// no token configured). Retrying will not help until someone fixes the credentials.
	ErrAuth = errors.New("git credentials refused")
	// ErrNotFound means the repository, the branch or the pull request does not exist (or
	// the credentials cannot see it).
	ErrNotFound = errors.New("not found in the git repository")
	// ErrNotMergeable means a proposal cannot be merged as it stands: its base changed the
	// same file differently, or the pull request was closed without merging.
	ErrNotMergeable = errors.New("proposal cannot be merged")
	// ErrUnknownBranch means the remote has no such branch.
	ErrUnknownBranch = checkout.ErrUnknownBranch
)

// NewProvider returns the provider cfg.Provider names: "git" (plain pushes to cfg.URL) or
// "github" (the GitHub REST API on the cfg.GitHub repository). Credentials come only from the
// worker's environment: $IDP_GIT_TOKEN or $GITHUB_TOKEN, or for GitHub an App
// ($IDP_GITHUB_APP_ID, $IDP_GITHUB_APP_PRIVATE_KEY_FILE, $IDP_GITHUB_APP_INSTALLATION_ID).
// $IDP_GITHUB_API_URL points the GitHub provider at GitHub Enterprise
// (https://HOST/api/v3/) or a test server.
func NewProvider(cfg config.Repository) (Provider, error) {
	switch cfg.Provider {
	case "git", "":
		if cfg.URL == "" {
			return nil, errors.New("git provider needs the repository URL")
		}
		return newGitProvider(cfg.URL), nil
	case "github":
		return newGitHubProviderFromEnv(cfg)
	default:
		return nil, fmt.Errorf("unknown git provider %q (want \"git\" or \"github\")", cfg.Provider)
	}
}

// authorFromEnv is who commits: $IDP_GIT_AUTHOR_NAME <$IDP_GIT_AUTHOR_EMAIL>, each part
// defaulting to idp <idp@localhost>. set reports whether either variable was given.
func authorFromEnv() (name, email string, set bool) {
	name, email = os.Getenv("IDP_GIT_AUTHOR_NAME"), os.Getenv("IDP_GIT_AUTHOR_EMAIL")
	set = name != "" || email != ""
	if name == "" {
		name = "idp"
	}
	if email == "" {
		email = "idp@localhost"
	}
	return name, email, set
}

// cleanRepoPath validates a change's path: relative, slash-separated, no "..".
func cleanRepoPath(p string) (string, error) {
	c := path.Clean(strings.TrimPrefix(p, "./"))
	if p == "" || c == "." || strings.HasPrefix(c, "/") || c == ".." || strings.HasPrefix(c, "../") ||
		strings.Contains(c, "/../") || strings.Contains(p, `\`) {
		return "", fmt.Errorf("invalid repository path %q", p)
	}
	return c, nil
}

// retryPolicy bounds the re-read-and-retry loops: attempts in all, and a jittered exponential
// delay between them.
type retryPolicy struct {
	attempts int
	base     time.Duration
	max      time.Duration
}

// defaultRetry gives a busy branch about half a minute to let a write through.
var defaultRetry = retryPolicy{attempts: 8, base: 200 * time.Millisecond, max: 5 * time.Second}

// retryableError marks an error a fresh attempt may get past: the branch moved, a server
// hiccup, a rate limit. after is the least the server asked us to wait.
type retryableError struct {
	err   error
	after time.Duration
}

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

func retryLater(err error) error { return &retryableError{err: err} }

// do runs op until it succeeds, fails with an error not marked retryLater, the attempts run
// out or ctx ends. The delay doubles from base up to max, with full jitter so that writers
// racing for the same branch spread out.
func (r retryPolicy) do(ctx context.Context, op func() error) error {
	for attempt := 1; ; attempt++ {
		err := op()
		var re *retryableError
		if err == nil || !errors.As(err, &re) {
			return err
		}
		if attempt >= r.attempts {
			return fmt.Errorf("giving up after %d attempts: %w", attempt, re.err)
		}
		limit := r.base << (attempt - 1)
		if limit > r.max || limit <= 0 {
			limit = r.max
		}
		wait := limit/2 + rand.N(limit/2+1)
		if re.after > wait {
			wait = re.after
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), re.err)
		case <-t.C:
		}
	}
}

// secretError hides secrets in an error's text while keeping its chain for errors.Is.
type secretError struct {
	err     error
	secrets []string
}

func (e *secretError) Error() string {
	s := e.err.Error()
	for _, sec := range e.secrets {
		s = strings.ReplaceAll(s, sec, "***")
	}
	return s
}

func (e *secretError) Unwrap() error { return e.err }

// scrubSecrets makes sure no token from the environment or from url's user info can reach
// an error message (which ends in workflow histories and the CLI).
func scrubSecrets(err error, rawURL string) error {
	if err == nil {
		return nil
	}
	var secrets []string
	for _, name := range []string{"IDP_GIT_TOKEN", "GITHUB_TOKEN"} {
		if v := os.Getenv(name); len(v) >= 4 {
			secrets = append(secrets, v)
		}
	}
	if u, perr := url.Parse(rawURL); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			secrets = append(secrets, pw)
		} else if name := u.User.Username(); len(name) >= 20 { // a token passed as user name
			secrets = append(secrets, name)
		}
	}
	if len(secrets) == 0 {
		return err
	}
	return &secretError{err: err, secrets: secrets}
}

// redactURL drops user info from a URL for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}

// tokenFromEnv is $IDP_GIT_TOKEN, else $GITHUB_TOKEN.
func tokenFromEnv() string {
	for _, name := range []string{"IDP_GIT_TOKEN", "GITHUB_TOKEN"} {
		if tok := os.Getenv(name); tok != "" {
			return tok
		}
	}
	return ""
}
