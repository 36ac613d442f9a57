package github

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v62/github"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/internal/retry"
)

// mergeMethods are tried in order; repositories may disable some of them. Squash comes first
// so base gets one commit carrying the proposal's message (and the workflow ID in it).
var mergeMethods = []string{"squash", "merge", "rebase"}

// merging is the state a Merge keeps across its attempts.
type merging struct {
	prop    git.Proposal
	method  int     // index into mergeMethods
	message *string // the proposal commit's message, read once
}

// Merge implements git.Provider. GitHub merges the pull request itself, told to merge only
// while its head is prop.Commit, the commit shown for approval: a branch that moved since is
// refused, never merged. A base that moved on is fine as long as GitHub can merge the
// approved commit onto it; a repository that requires branches to be up to date refuses,
// since updating the branch would make a head nobody approved, and the change must be
// proposed again.
func (p *provider) Merge(ctx context.Context, prop git.Proposal) (git.CommitResult, error) {
	if prop.Number == 0 {
		return git.CommitResult{Commit: prop.Commit}, nil
	}
	m := &merging{prop: prop}
	var res git.CommitResult
	err := p.retry.Do(ctx, func() error {
		var err error
		res, err = p.merge(ctx, m)
		return err
	})
	if err != nil {
		return git.CommitResult{}, fmt.Errorf("merging %s into %s: %w", prop.Head, prop.Base, err)
	}
	return res, nil
}

// merge is one attempt of Merge.
func (p *provider) merge(ctx context.Context, m *merging) (git.CommitResult, error) {
	n := m.prop.Number
	pr, _, err := p.client.GetPullRequest(ctx, p.owner, p.repo, n)
	if err != nil {
		return git.CommitResult{}, p.classify(err, "reading pull request #%d", n)
	}
	if head := pr.GetHead().GetSHA(); head != m.prop.Commit {
		return git.CommitResult{}, moved(m.prop, head)
	}
	if pr.GetMerged() {
		return git.CommitResult{Commit: pr.GetMergeCommitSHA(), Changed: true}, nil
	}
	if pr.GetState() == "closed" {
		return git.CommitResult{}, fmt.Errorf("%w: pull request #%d was closed without merging", git.ErrNotMergeable, n)
	}
	if m.message == nil {
		m.message = github.String(p.commitMessage(ctx, m.prop, pr))
	}
	method := mergeMethods[m.method]
	title, body := mergeText(method, *m.message, n)
	opts := &github.PullRequestOptions{MergeMethod: method, CommitTitle: title, SHA: m.prop.Commit}
	r, _, err := p.client.MergePullRequest(ctx, p.owner, p.repo, n, body, opts)
	switch {
	case err == nil:
		return git.CommitResult{Commit: r.GetSHA(), Changed: true}, nil
	case refused(err, http.StatusMethodNotAllowed, "not allowed") && m.method+1 < len(mergeMethods):
		m.method++
		return git.CommitResult{}, retry.Later(p.scrub(err))
	case status(err) == http.StatusConflict: // "Head branch was modified": not the approved commit
		return git.CommitResult{}, p.scrub(fmt.Errorf("%w: pull request #%d: the head of %s is no longer the approved %s, refusing to merge what nobody approved: %w",
			git.ErrNotMergeable, n, m.prop.Head, m.prop.Commit, err))
	case status(err) == http.StatusMethodNotAllowed:
		return git.CommitResult{}, p.notMergeable(pr, err)
	}
	return git.CommitResult{}, p.classify(err, "merging pull request #%d", n)
}

// moved is the refusal to merge (or accept as merged) a proposal whose branch no longer
// points at the approved commit.
func moved(prop git.Proposal, head string) error {
	return fmt.Errorf("%w: branch %s moved from %s to %s: refusing to merge what nobody approved",
		git.ErrNotMergeable, prop.Head, prop.Commit, head)
}

// notMergeable sorts GitHub's 405 to a merge (mergeErr) by the pull request's mergeable
// state: a conflict with base, or a base that moved in a repository requiring up-to-date
// branches, needs a new proposal; anything else (checks still running, GitHub still
// computing) may pass on a later attempt. The branch is never updated from base here: that
// would put a commit nobody approved at its head.
func (p *provider) notMergeable(pr *github.PullRequest, mergeErr error) error {
	n, base := pr.GetNumber(), pr.GetBase().GetRef()
	switch pr.GetMergeableState() {
	case "dirty":
		return p.scrub(fmt.Errorf("%w: pull request #%d conflicts with %s: %w", git.ErrNotMergeable, n, base, mergeErr))
	case "behind":
		return p.scrub(fmt.Errorf("%w: pull request #%d is behind %s, which must be merged into it first: propose the change again: %w",
			git.ErrNotMergeable, n, base, mergeErr))
	}
	return retry.Later(p.scrub(fmt.Errorf("merging pull request #%d: %w", n, mergeErr)))
}

// commitMessage is the message of the proposal's commit (which carries the workflow ID), or
// the pull request's title if that commit cannot be read.
func (p *provider) commitMessage(ctx context.Context, prop git.Proposal, pr *github.PullRequest) string {
	if prop.Commit != "" {
		if c, _, err := p.client.GetCommit(ctx, p.owner, p.repo, prop.Commit); err == nil && c.GetMessage() != "" {
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
