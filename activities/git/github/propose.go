package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v62/github"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/internal/retry"
)

// Propose implements git.Provider.
func (p *provider) Propose(ctx context.Context, base, head string, c git.Change, title, body string) (git.Proposal, error) {
	c, err := c.ForProposal(base, head)
	if err != nil {
		return git.Proposal{}, err
	}
	var prop git.Proposal
	err = p.retry.Do(ctx, func() error {
		var err error
		prop, err = p.propose(ctx, base, head, c, title, body)
		return err
	})
	if err != nil {
		return git.Proposal{}, fmt.Errorf("proposing %s on %s: %w", c.Path, head, err)
	}
	return prop, nil
}

// propose is one attempt of Propose.
func (p *provider) propose(ctx context.Context, base, head string, c git.Change, title, body string) (git.Proposal, error) {
	ed, err := p.editAtHead(ctx, base, c)
	if err != nil {
		return git.Proposal{}, err
	}
	if ed.same {
		return git.Proposal{Base: base, Commit: ed.tip}, nil
	}
	commit, err := p.proposalCommit(ctx, head, c, ed)
	if err != nil {
		return git.Proposal{}, err
	}
	pr, err := p.findOrOpenPR(ctx, base, head, title, body)
	if err != nil {
		return git.Proposal{}, err
	}
	return git.Proposal{Base: base, Head: head, Commit: commit, Number: pr.GetNumber(), URL: pr.GetHTMLURL()}, nil
}

// proposalCommit returns the commit on branch head that carries ed, base's edited file: the
// branch's tip when an earlier attempt already made exactly that, else a new commit on the
// branch started over from base. Whatever else the branch held (a stale attempt, someone
// else's commits) is dropped, so the pull request shows, and Merge lands, only this change.
func (p *provider) proposalCommit(ctx context.Context, head string, c git.Change, ed edited) (string, error) {
	headTip, err := p.branchHead(ctx, head)
	switch {
	case errors.Is(err, git.ErrNotFound):
		if err := p.createBranch(ctx, head, ed.tip); err != nil {
			return "", err
		}
	case err != nil:
		return "", err
	case headTip != ed.tip:
		ours, err := p.isProposal(ctx, ed.tip, headTip, c, ed.updated)
		if err != nil || ours {
			return headTip, err
		}
		if err := p.resetProposalBranch(ctx, head, ed.tip); err != nil {
			return "", err
		}
	}
	commit, err := p.putFile(ctx, head, c.Path, ed.blob, ed.updated, c.Message)
	if err != nil {
		return "", err
	}
	// The contents API commits on whatever the branch holds by then: check that nobody
	// pushed to it between our reset and our write.
	ours, err := p.isProposal(ctx, ed.tip, commit, c, ed.updated)
	if err != nil {
		return "", err
	}
	if !ours {
		return "", retry.Later(fmt.Errorf("branch %q changed while the proposal was written on it", head))
	}
	return commit, nil
}

// isProposal reports whether commit is exactly what idp proposes for c: one commit on
// baseTip, with c's message, changing c's file and nothing else, to updated.
func (p *provider) isProposal(ctx context.Context, baseTip, commit string, c git.Change, updated []byte) (bool, error) {
	cmp, _, err := p.client.CompareCommits(ctx, p.owner, p.repo, baseTip, commit, nil)
	if err != nil {
		return false, p.classify(err, "comparing %s with %s", commit, baseTip)
	}
	if cmp.GetStatus() != "ahead" || cmp.GetAheadBy() != 1 || cmp.GetBehindBy() != 0 || len(cmp.Commits) != 1 ||
		strings.TrimSpace(cmp.Commits[0].GetCommit().GetMessage()) != strings.TrimSpace(c.Message) ||
		len(cmp.Files) != 1 || cmp.Files[0].GetFilename() != c.Path {
		return false, nil
	}
	cur, _, exists, err := p.readFile(ctx, c.Path, commit)
	if err != nil {
		return false, err
	}
	return exists && bytes.Equal(cur, updated), nil
}

// resetProposalBranch points the proposal branch head back at base's tip. It is the only
// forced ref update the provider makes, and it is safe: head is a proposal branch (under
// git.ProposalPrefix, never the base, as ForProposal checked and this checks again) that
// only idp writes, nothing on it has been approved yet, and what it held is replaced, not
// merged anywhere.
func (p *provider) resetProposalBranch(ctx context.Context, head, tip string) error {
	if !strings.HasPrefix(head, git.ProposalPrefix) {
		return fmt.Errorf("refusing to rewrite %q: only proposal branches under %s are ever rewritten", head, git.ProposalPrefix)
	}
	ref := &github.Reference{Ref: github.String("refs/heads/" + head), Object: &github.GitObject{SHA: &tip}}
	if _, _, err := p.client.UpdateRef(ctx, p.owner, p.repo, ref, true); err != nil {
		return p.classify(err, "resetting branch %q", head)
	}
	return nil
}

// createBranch creates branch at sha; a branch that appeared meanwhile means another attempt
// got there first, so the caller starts over and finds it.
func (p *provider) createBranch(ctx context.Context, branch, sha string) error {
	ref := &github.Reference{Ref: github.String("refs/heads/" + branch), Object: &github.GitObject{SHA: &sha}}
	_, _, err := p.client.CreateRef(ctx, p.owner, p.repo, ref)
	if status(err) == http.StatusUnprocessableEntity {
		return retry.Later(p.scrub(fmt.Errorf("creating branch %q: %w", branch, err)))
	}
	return p.classify(err, "creating branch %q", branch)
}

// findOrOpenPR returns the open pull request from head into base, opening it if there is none.
func (p *provider) findOrOpenPR(ctx context.Context, base, head, title, body string) (*github.PullRequest, error) {
	prs, _, err := p.client.ListPullRequests(ctx, p.owner, p.repo, &github.PullRequestListOptions{State: "open", Head: p.owner + ":" + head, Base: base})
	if err != nil {
		return nil, p.classify(err, "listing pull requests for %q", head)
	}
	if len(prs) > 0 {
		return prs[0], nil
	}
	pr, _, err := p.client.CreatePullRequest(ctx, p.owner, p.repo, &github.NewPullRequest{Title: &title, Head: &head, Base: &base, Body: &body})
	if status(err) == http.StatusUnprocessableEntity {
		// Usually "a pull request already exists": another attempt opened it; list again.
		return nil, retry.Later(p.scrub(fmt.Errorf("opening a pull request for %q: %w", head, err)))
	}
	if err != nil {
		return nil, p.classify(err, "opening a pull request for %q", head)
	}
	return pr, nil
}

// UpdateProposal implements git.Provider.
func (p *provider) UpdateProposal(ctx context.Context, prop git.Proposal, body string) error {
	if prop.Number == 0 {
		return nil
	}
	return p.retry.Do(ctx, func() error {
		_, _, err := p.client.EditPullRequest(ctx, p.owner, p.repo, prop.Number, &github.PullRequest{Body: &body})
		return p.classify(err, "updating pull request #%d", prop.Number)
	})
}
