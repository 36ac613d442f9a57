package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/alexpermiakov/idp/internal/checkout"
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

// CleanPath returns c.Path in canonical form, or an error when it is not a relative,
// slash-separated path inside the repository. Providers check it before touching the remote,
// so no change can write outside the repository whatever the remote would accept.
func (c Change) CleanPath() (string, error) {
	p := c.Path
	cp := path.Clean(strings.TrimPrefix(p, "./"))
	if p == "" || cp == "." || strings.HasPrefix(cp, "/") || cp == ".." || strings.HasPrefix(cp, "../") ||
		strings.Contains(cp, "/../") || strings.Contains(p, `\`) {
		return "", fmt.Errorf("invalid repository path %q", p)
	}
	return cp, nil
}

// ProposalPrefix starts the name of every proposal branch. It is the only kind of branch a
// provider ever rewrites (a non-fast-forward update), because idp alone writes there and
// rebuilds it from base; a base branch is only ever moved forward, compare-and-swap.
const ProposalPrefix = "idp/"

// ForProposal checks a change to be proposed on branch head over base, and returns it with
// its path in canonical form: every provider refuses the same bad input the same way.
func (c Change) ForProposal(base, head string) (Change, error) {
	p, err := c.CleanPath()
	if err != nil {
		return Change{}, err
	}
	if !strings.HasPrefix(head, ProposalPrefix) || head == base {
		return Change{}, fmt.Errorf("proposal branch %q must be under %s and differ from base %q", head, ProposalPrefix, base)
	}
	c.Path = p
	return c, nil
}

// Apply runs c.Edit on a file's current content old (nil, with exists false, when there is no
// such file) and reports whether the result differs. Every provider decides "nothing to
// write" here, so they agree: the same bytes, or a missing file the edit leaves missing.
func (c Change) Apply(old []byte, exists bool) (updated []byte, changed bool, err error) {
	updated, err = c.Edit(old)
	if err != nil {
		return nil, false, fmt.Errorf("editing %s: %w", c.Path, err)
	}
	same := exists && bytes.Equal(old, updated) || !exists && updated == nil
	return updated, !same, nil
}

// Provider writes changes to the platform repository, either as direct commits or as
// proposals (a branch and, on GitHub, a pull request) that are merged later.
//
// Errors the user must fix wrap ErrAuth (credentials refused), ErrNotFound (repository or
// branch missing) or ErrNotMergeable (the proposal conflicts with its base or was closed);
// anything else is worth retrying. A provider whose proposals have reviews (GitHub) also
// implements ReviewLister.
type Provider interface {
	// Commit applies the change on top of branch's head and pushes it. A push rejected as
	// non-fast-forward (someone else pushed meanwhile) re-reads the new head, re-applies the
	// edit and retries (bounded, with jitter). If the edit changes nothing, it returns the
	// current head with Changed=false.
	Commit(ctx context.Context, branch string, c Change) (CommitResult, error)
	// Propose creates or updates branch head from base with the change and, on GitHub, opens
	// a pull request titled title with body body, or finds the open one for that head. head
	// must be under ProposalPrefix. It is idempotent: a retry finds the existing branch and
	// pull request instead of making new ones, but reuses the branch only when it is exactly
	// one commit on base's head with this change and c.Message (which carries the workflow
	// ID); a branch holding anything else is rebuilt from base. If the edit changes nothing on
	// base there is nothing to propose: the result has an empty Head, Number 0 and base's
	// head as Commit.
	Propose(ctx context.Context, base, head string, c Change, title, body string) (Proposal, error)
	// UpdateProposal rewrites the pull request's body (e.g. to list approvals); it does
	// nothing for plain Git and for empty proposals.
	UpdateProposal(ctx context.Context, p Proposal, body string) error
	// Merge lands exactly p.Commit, the commit shown for approval, into base and returns the
	// commit base then points at. A proposal branch that no longer points at p.Commit is
	// refused with ErrNotMergeable, never merged. It is idempotent: an already merged proposal
	// returns the existing merge commit. Base only moves forward, compare-and-swap against
	// the tip that was read. A base that moved on is handled (git: the approved one-file
	// change is re-created on the new base; GitHub: GitHub merges the approved commit onto
	// it, and a repository requiring up-to-date branches refuses with ErrNotMergeable).
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
	// same file differently, its branch moved away from the approved commit, or the pull
	// request was closed without merging.
	ErrNotMergeable = errors.New("proposal cannot be merged")
	// ErrUnknownBranch means the remote has no such branch. It is checkout's sentinel, so
	// callers test one value whichever package found the branch missing.
	ErrUnknownBranch = checkout.ErrUnknownBranch
)

// errUnavailable marks the errors of a provider that could not be built: only a person
// fixing the worker's settings helps.
var errUnavailable = errors.New("git provider unavailable")

// Unavailable returns a Provider whose every call fails with err, for a worker whose
// repository settings are wrong (an unknown provider, missing credentials). The worker still
// starts and serves the activities that need no provider, and a promotion fails at once with
// the cause as a configuration error instead of retrying.
func Unavailable(err error) Provider {
	return unavailable{err: fmt.Errorf("%w: %w", errUnavailable, err)}
}

type unavailable struct{ err error }

func (u unavailable) Commit(context.Context, string, Change) (CommitResult, error) {
	return CommitResult{}, u.err
}

func (u unavailable) Propose(context.Context, string, string, Change, string, string) (Proposal, error) {
	return Proposal{}, u.err
}

func (u unavailable) UpdateProposal(context.Context, Proposal, string) error { return u.err }

func (u unavailable) Merge(context.Context, Proposal) (CommitResult, error) {
	return CommitResult{}, u.err
}
