package github

import (
	"context"
	"errors"
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

// Merge implements git.Provider. GitHub merges the pull request itself; when it refuses because
// the branch is behind base (405), the branch is updated from base and the merge retried.
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
	opts := &github.PullRequestOptions{MergeMethod: method, CommitTitle: title, SHA: pr.GetHead().GetSHA()}
	r, _, err := p.client.MergePullRequest(ctx, p.owner, p.repo, n, body, opts)
	switch {
	case err == nil:
		return git.CommitResult{Commit: r.GetSHA(), Changed: true}, nil
	case refused(err, http.StatusMethodNotAllowed, "not allowed") && m.method+1 < len(mergeMethods):
		m.method++
		return git.CommitResult{}, retry.Later(p.scrub(err))
	case status(err) == http.StatusMethodNotAllowed:
		return git.CommitResult{}, p.updateBranch(ctx, pr, err)
	case status(err) == http.StatusConflict: // head moved between our read and the merge
		return git.CommitResult{}, retry.Later(p.scrub(fmt.Errorf("merging pull request #%d: %w", n, err)))
	}
	return git.CommitResult{}, p.classify(err, "merging pull request #%d", n)
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

// updateBranch asks GitHub to merge base into the pull request's branch after a refused
// merge (mergeErr), then has the caller retry: the update runs in the background.
func (p *provider) updateBranch(ctx context.Context, pr *github.PullRequest, mergeErr error) error {
	_, _, err := p.client.UpdatePullRequestBranch(ctx, p.owner, p.repo, pr.GetNumber(),
		&github.PullRequestBranchUpdateOptions{ExpectedHeadSHA: github.String(pr.GetHead().GetSHA())})
	var accepted *github.AcceptedError
	switch {
	case err == nil, errors.As(err, &accepted):
		return retry.Later(p.scrub(fmt.Errorf("merging pull request #%d (branch update requested): %w", pr.GetNumber(), mergeErr)))
	case refused(err, http.StatusUnprocessableEntity, "conflict"):
		return p.scrub(fmt.Errorf("%w: pull request #%d conflicts with %s: %w", git.ErrNotMergeable, pr.GetNumber(), pr.GetBase().GetRef(), err))
	case status(err) == http.StatusUnprocessableEntity:
		// Already up to date (or head moved): the refusal has another cause, such as checks
		// still running; try again later.
		return retry.Later(p.scrub(fmt.Errorf("merging pull request #%d: %w", pr.GetNumber(), mergeErr)))
	}
	return p.classify(err, "updating the branch of pull request #%d", pr.GetNumber())
}
