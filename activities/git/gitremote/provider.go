// Package gitremote is the git.Provider for any remote go-git speaks (https with a token,
// ssh, file:// or a local path): commits are plain pushes and a proposal is just a branch,
// merged by fast-forward or by re-creating its commit on the moved base.
//
// Every operation starts from a fresh in-memory clone of just the branches it needs, builds
// commits directly in the object store (no worktree, so a big repository costs no checkout)
// and pushes. go-git is a library working on local state rather than a client of a service,
// so there is no narrow client interface here: tests run against real bare repositories.
package gitremote

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/internal/redact"
	"github.com/alexpermiakov/idp/activities/git/internal/retry"
	"github.com/alexpermiakov/idp/internal/checkout"
)

// provider writes to one remote.
type provider struct {
	url    string
	auth   transport.AuthMethod
	token  string // kept out of error messages
	author git.Author
	retry  retry.Policy
	now    func() time.Time
	// writers is where the provider finds each branch's slot (see turn): the process's.
	writers *sync.Map
}

// New returns the provider for the remote at url. opts.Token authenticates https remotes;
// opts.Author (with its defaults) signs commits; the GitHub settings are not used.
func New(url string, opts git.Options) (git.Provider, error) {
	if url == "" {
		return nil, errors.New("git provider needs the repository URL")
	}
	return &provider{
		url: url, auth: checkout.TokenAuth(url, opts.Token), token: opts.Token,
		author: opts.Author.WithDefaults(), retry: retry.Default, now: time.Now,
		writers: &writers,
	}, nil
}

// scrub keeps the token, and any credential in the URL, out of err's message.
func (p *provider) scrub(err error) error { return redact.Error(err, p.url, p.token) }

// remote is the URL without credentials, for messages.
func (p *provider) remote() string { return redact.URL(p.url) }

// wrap adds context to an error from the remote, classifies it by go-git's transport
// sentinels and keeps secrets out of it.
func (p *provider) wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf(format, args...)
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod):
		err = fmt.Errorf("%s: %w: %w", msg, git.ErrAuth, err)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		err = fmt.Errorf("%s: %w: %w", msg, git.ErrNotFound, err)
	default:
		err = fmt.Errorf("%s: %w", msg, err)
	}
	return p.scrub(err)
}

func (p *provider) missingBranch(branch string) error {
	return p.scrub(fmt.Errorf("%w: %w: %q in %s", git.ErrNotFound, git.ErrUnknownBranch, branch, p.remote()))
}

// Commit implements git.Provider.
func (p *provider) Commit(ctx context.Context, branch string, c git.Change) (git.CommitResult, error) {
	path, err := c.CleanPath()
	if err != nil {
		return git.CommitResult{}, err
	}
	c.Path = path
	return p.commitQueued(ctx, branch, c)
}

// Propose implements git.Provider: the proposal is branch head, one commit on base's head.
func (p *provider) Propose(ctx context.Context, base, head string, c git.Change, _, _ string) (git.Proposal, error) {
	c, err := c.ForProposal(base, head)
	if err != nil {
		return git.Proposal{}, err
	}
	release, err := proposing(ctx, p.url)
	if err != nil {
		return git.Proposal{}, fmt.Errorf("proposing %s on %s: %w", c.Path, head, err)
	}
	defer release()
	s, err := p.session()
	if err != nil {
		return git.Proposal{}, err
	}
	s.shallow = true
	var prop git.Proposal
	err = p.retry.Do(ctx, func() error {
		var err error
		prop, err = s.propose(ctx, base, head, c)
		return err
	})
	if err != nil {
		return git.Proposal{}, fmt.Errorf("proposing %s on %s: %w", c.Path, head, err)
	}
	return prop, nil
}

// propose is one attempt of Propose.
func (s *session) propose(ctx context.Context, base, head string, c git.Change) (git.Proposal, error) {
	heads, err := s.fetch(ctx, base, head)
	if err != nil {
		return git.Proposal{}, err
	}
	baseTip, ok := heads[base]
	if !ok {
		return git.Proposal{}, s.p.missingBranch(base)
	}
	baseCommit, err := s.repo.CommitObject(baseTip)
	if err != nil {
		return git.Proposal{}, err
	}
	tree, err := s.applyChange(baseCommit, c)
	if err != nil {
		return git.Proposal{}, err
	}
	if tree.IsZero() {
		return git.Proposal{Base: base, Commit: baseTip.String()}, nil
	}
	headTip := heads[head]
	if !headTip.IsZero() {
		hc, err := s.repo.CommitObject(headTip)
		if err != nil {
			return git.Proposal{}, err
		}
		if len(hc.ParentHashes) == 1 && hc.ParentHashes[0] == baseTip && hc.TreeHash == tree && hc.Message == c.Message {
			// An earlier attempt already made exactly this branch: one idp commit on base
			// carrying this change (the whole tree matches) and this workflow's message.
			return git.Proposal{Base: base, Head: head, Commit: headTip.String()}, nil
		}
	}
	// Anything else on the branch (a stale attempt, foreign commits) is replaced: the branch
	// starts over from base, compare-and-swap against the tip we just read.
	h, err := s.writeCommit(baseTip, tree, c.Message, nil)
	if err != nil {
		return git.Proposal{}, err
	}
	if err := s.push(ctx, refUpdate{branch: head, from: headTip, to: h}); err != nil {
		return git.Proposal{}, err
	}
	return git.Proposal{Base: base, Head: head, Commit: h.String()}, nil
}

// UpdateProposal implements git.Provider; a plain branch has no description to update.
func (p *provider) UpdateProposal(context.Context, git.Proposal, string) error { return nil }

// maxProposing bounds the proposals this process writes to one remote at once. Each holds an
// in-memory copy of the base branch's tip (about 11 MB allocated for a repository of 500
// services) while it fetches and pushes; 500 promotions parking at an approval at once would
// otherwise hold 500 copies, and the worker keep that peak as RSS long after. The fetches
// share the same cores and network either way; the rest wait their turn, heartbeating.
const maxProposing = 8

// proposals holds each remote's proposal slots (url → chan struct{}).
var proposals sync.Map

// proposing takes one of the remote's proposal slots, waiting while all are held; release
// gives it back.
func proposing(ctx context.Context, url string) (release func(), err error) {
	v, _ := proposals.LoadOrStore(url, make(chan struct{}, maxProposing))
	slots := v.(chan struct{})
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for one of the %d proposal slots: %w", maxProposing, ctx.Err())
	}
}
