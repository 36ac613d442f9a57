package gitremote

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/alexpermiakov/idp/activities/git"
)

// Merge implements git.Provider. It lands exactly prop.Commit, the commit shown for approval:
// a proposal branch that moved since is refused. When base has not moved, base is
// fast-forwarded to that commit; when it has, the commit's one file change is re-created on
// base's new head (a base that changed that file too is a conflict). Base only ever moves
// forward, compare-and-swap against the tip this attempt read; a lost race starts over.
func (p *provider) Merge(ctx context.Context, prop git.Proposal) (git.CommitResult, error) {
	if prop.Head == "" {
		return git.CommitResult{Commit: prop.Commit}, nil
	}
	s, err := p.session()
	if err != nil {
		return git.CommitResult{}, err
	}
	done, err := p.turn(ctx, prop.Base)
	if err != nil {
		return git.CommitResult{}, fmt.Errorf("merging %s into %s: %w", prop.Head, prop.Base, err)
	}
	defer done()
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
	base, err := s.repo.CommitObject(baseTip)
	if err != nil {
		return git.CommitResult{}, err
	}
	headTip, ok := heads[prop.Head]
	if !ok {
		return s.mergedBefore(prop, base)
	}
	if headTip.String() != prop.Commit {
		return git.CommitResult{}, fmt.Errorf("%w: branch %s moved from %s to %s: refusing to merge what nobody approved",
			git.ErrNotMergeable, prop.Head, prop.Commit, headTip)
	}
	approved, err := s.repo.CommitObject(headTip)
	if err != nil {
		return git.CommitResult{}, err
	}
	landed := git.CommitResult{Commit: approved.Hash.String(), Changed: true}
	if merged, err := approved.IsAncestor(base); err != nil {
		return git.CommitResult{}, err
	} else if merged {
		return landed, nil
	}
	ch, err := s.approvedChange(approved, base)
	if err != nil {
		return git.CommitResult{}, err
	}
	if ch.parent == baseTip {
		return landed, s.push(ctx, refUpdate{branch: prop.Base, from: baseTip, to: approved.Hash})
	}
	if h, err := s.replayedBefore(ch, base); err != nil || !h.IsZero() {
		return git.CommitResult{Commit: h.String(), Changed: true}, err
	}
	h, err := s.replay(ch, base)
	if err != nil || h == baseTip {
		return git.CommitResult{Commit: h.String(), Changed: true}, err
	}
	if err := s.push(ctx, refUpdate{branch: prop.Base, from: baseTip, to: h}); err != nil {
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

// fileChange is what one commit did: it changed the file at path from was to want (nil: the
// file did not exist, or was removed) on top of parent.
type fileChange struct {
	commit    *object.Commit
	parent    plumbing.Hash
	path      string
	was, want *object.TreeEntry
}

// approvedChange reads the change an approved commit makes. Idp proposes exactly one commit
// changing one file on a commit of base; anything else is not what idp asked to approve.
func (s *session) approvedChange(approved, base *object.Commit) (fileChange, error) {
	ch, ok, err := s.oneFileChange(approved)
	if err != nil {
		return fileChange{}, err
	}
	if !ok {
		return fileChange{}, fmt.Errorf("%w: %s is not one commit changing one file", git.ErrNotMergeable, approved.Hash)
	}
	parent, err := s.repo.CommitObject(ch.parent)
	if err != nil {
		return fileChange{}, err
	}
	if onBase, err := parent.IsAncestor(base); err != nil || !onBase {
		return fileChange{}, fmt.Errorf("%w: %s does not start from a commit of the base branch (%v)", git.ErrNotMergeable, approved.Hash, err)
	}
	return ch, nil
}

// oneFileChange returns the change c makes to its only parent, and false when c is a root
// or merge commit or changes more or less than one file.
func (s *session) oneFileChange(c *object.Commit) (fileChange, bool, error) {
	if len(c.ParentHashes) != 1 {
		return fileChange{}, false, nil
	}
	parent, err := c.Parent(0)
	if err != nil {
		return fileChange{}, false, err
	}
	changes, err := diffTrees(s, parent.TreeHash, c.TreeHash)
	if err != nil || len(changes) != 1 {
		return fileChange{}, false, err
	}
	ch := fileChange{commit: c, parent: parent.Hash, path: changes[0].To.Name}
	if ch.path == "" {
		ch.path = changes[0].From.Name
	}
	if changes[0].From.Name != "" {
		ch.was = &changes[0].From.TreeEntry
	}
	if changes[0].To.Name != "" {
		ch.want = &changes[0].To.TreeEntry
	}
	return ch, true, nil
}

// diffTrees lists what changed between two trees (a zero hash is the empty tree).
func diffTrees(s *session, from, to plumbing.Hash) (object.Changes, error) {
	tree := func(h plumbing.Hash) (*object.Tree, error) {
		if h.IsZero() {
			return &object.Tree{}, nil
		}
		return object.GetTree(s.repo.Storer, h)
	}
	a, err := tree(from)
	if err != nil {
		return nil, err
	}
	b, err := tree(to)
	if err != nil {
		return nil, err
	}
	return object.DiffTree(a, b)
}

// maxReplayScan bounds how far back replayedBefore looks for an earlier merge.
const maxReplayScan = 1000

// replayedBefore finds the commit an earlier attempt made when it re-created ch on base (a
// retried Merge must return the same commit): walking base's first parents back to where the
// proposal started, a commit with the approved message making the same one-file change.
func (s *session) replayedBefore(ch fileChange, base *object.Commit) (plumbing.Hash, error) {
	c := base
	for range maxReplayScan {
		if c.Hash == ch.parent || len(c.ParentHashes) == 0 {
			return plumbing.ZeroHash, nil
		}
		if c.Message == ch.commit.Message {
			got, ok, err := s.oneFileChange(c)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			if ok && got.path == ch.path && sameEntry(got.want, ch.want) {
				return c.Hash, nil
			}
		}
		next, err := c.Parent(0)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		c = next
	}
	return plumbing.ZeroHash, nil
}

// replay re-creates the approved change ch as one commit on base, keeping its message and
// author, and checks that the result changes nothing but that file, to that content. A base
// that already has the file as approved is returned as it is; one whose file is no longer
// what the change started from is a conflict.
func (s *session) replay(ch fileChange, base *object.Commit) (plumbing.Hash, error) {
	now, err := findEntry(s.repo.Storer, base.TreeHash, ch.path)
	switch {
	case err != nil:
		return plumbing.ZeroHash, err
	case sameEntry(now, ch.want):
		return base.Hash, nil
	case !sameEntry(now, ch.was):
		return plumbing.ZeroHash, fmt.Errorf("%w: %s was changed on both branches", git.ErrNotMergeable, ch.path)
	}
	tree, err := setTreeEntry(s.repo.Storer, base.TreeHash, strings.Split(ch.path, "/"), ch.want)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	changes, err := diffTrees(s, base.TreeHash, tree)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if len(changes) != 1 || (changes[0].To.Name != ch.path && changes[0].From.Name != ch.path) {
		return plumbing.ZeroHash, fmt.Errorf("%w: re-creating %s on %s would change %d paths, not just %s",
			git.ErrNotMergeable, ch.commit.Hash, base.Hash, len(changes), ch.path)
	}
	author := ch.commit.Author
	return s.writeCommit(base.Hash, tree, ch.commit.Message, &author)
}
