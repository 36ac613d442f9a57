package gitremote

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/alexpermiakov/idp/activities/git"
)

// Merge implements git.Provider. When base has not moved, base is fast-forwarded to head.
// When it has, head's changes are re-created file by file on base's new head (a file base
// changed too is a conflict, unless both sides agree), and head and base are pushed together
// atomically so that a retried Merge finds head inside base and returns the same commit.
func (p *provider) Merge(ctx context.Context, prop git.Proposal) (git.CommitResult, error) {
	if prop.Head == "" {
		return git.CommitResult{Commit: prop.Commit}, nil
	}
	s, err := p.session()
	if err != nil {
		return git.CommitResult{}, err
	}
	var res git.CommitResult
	err = p.retry.Do(ctx, func() error {
		var err error
		res, err = s.merge(ctx, prop)
		return err
	})
	if err != nil {
		return git.CommitResult{}, fmt.Errorf("merging %s into %s: %w", prop.Head, prop.Base, err)
	}
	return res, nil
}

// merge is one attempt of Merge.
func (s *session) merge(ctx context.Context, prop git.Proposal) (git.CommitResult, error) {
	heads, err := s.fetch(ctx, prop.Base, prop.Head)
	if err != nil {
		return git.CommitResult{}, err
	}
	baseTip, ok := heads[prop.Base]
	if !ok {
		return git.CommitResult{}, s.p.missingBranch(prop.Base)
	}
	baseCommit, err := s.repo.CommitObject(baseTip)
	if err != nil {
		return git.CommitResult{}, err
	}
	headTip, ok := heads[prop.Head]
	if !ok {
		return s.mergedBefore(prop, baseCommit)
	}
	headCommit, err := s.repo.CommitObject(headTip)
	if err != nil {
		return git.CommitResult{}, err
	}
	landed := git.CommitResult{Commit: headTip.String(), Changed: true}
	merged, err := headCommit.IsAncestor(baseCommit)
	if err != nil {
		return git.CommitResult{}, err
	}
	if merged {
		return landed, nil
	}
	ff, err := baseCommit.IsAncestor(headCommit)
	if err != nil {
		return git.CommitResult{}, err
	}
	if ff {
		if err := s.push(ctx, false, map[string]plumbing.Hash{prop.Base: headTip}); err != nil {
			return git.CommitResult{}, err
		}
		return landed, nil
	}
	h, err := s.rebase(headCommit, baseCommit)
	if err != nil {
		return git.CommitResult{}, err
	}
	if err := s.push(ctx, true, map[string]plumbing.Hash{prop.Head: h, prop.Base: h}); err != nil {
		return git.CommitResult{}, err
	}
	return git.CommitResult{Commit: h.String(), Changed: true}, nil
}

// mergedBefore handles a proposal whose branch is gone: fine if its commit is in base (it
// was merged, then the branch deleted), else the branch is missing.
func (s *session) mergedBefore(prop git.Proposal, base *object.Commit) (git.CommitResult, error) {
	if prop.Commit != "" {
		if pc, err := s.repo.CommitObject(plumbing.NewHash(prop.Commit)); err == nil {
			if in, err := pc.IsAncestor(base); err == nil && in {
				return git.CommitResult{Commit: prop.Commit, Changed: true}, nil
			}
		}
	}
	return git.CommitResult{}, s.p.missingBranch(prop.Head)
}

// rebase re-creates what head changed since its merge base with base as one commit on base,
// keeping head's message and author.
func (s *session) rebase(head, base *object.Commit) (plumbing.Hash, error) {
	bases, err := head.MergeBase(base)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if len(bases) == 0 {
		return plumbing.ZeroHash, fmt.Errorf("%w: %s and %s share no history", git.ErrNotMergeable, head.Hash, base.Hash)
	}
	from, err := bases[0].Tree()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	to, err := head.Tree()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	changes, err := object.DiffTree(from, to)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	tree := base.TreeHash
	for _, ch := range changes {
		if tree, err = s.replay(tree, ch); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	author := head.Author
	return s.writeCommit(base.Hash, tree, head.Message, &author)
}

// replay applies one change of the proposal to tree: a no-op when tree already has the
// result, a conflict when tree no longer has what the change started from.
func (s *session) replay(tree plumbing.Hash, ch *object.Change) (plumbing.Hash, error) {
	path := ch.To.Name
	if path == "" {
		path = ch.From.Name
	}
	var was, want *object.TreeEntry
	if ch.From.Name != "" {
		was = &ch.From.TreeEntry
	}
	if ch.To.Name != "" {
		want = &ch.To.TreeEntry
	}
	now, err := findEntry(s.repo.Storer, tree, path)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	switch {
	case sameEntry(now, want):
		return tree, nil // base already has it
	case !sameEntry(now, was):
		return plumbing.ZeroHash, fmt.Errorf("%w: %s was changed on both branches", git.ErrNotMergeable, path)
	}
	return setTreeEntry(s.repo.Storer, tree, strings.Split(path, "/"), want)
}
