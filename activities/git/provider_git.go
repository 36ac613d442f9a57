package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/alexpermiakov/idp/internal/checkout"
)

// gitProvider writes with plain Git pushes to any remote go-git speaks (https with a token,
// ssh, file:// or a local path). Every operation starts from a fresh in-memory clone of just
// the branches it needs, builds commits directly in the object store (no worktree, so a big
// repository costs no checkout) and pushes; proposals are just branches.
type gitProvider struct {
	url   string
	auth  transport.AuthMethod
	retry retryPolicy
	now   func() time.Time
}

func newGitProvider(url string) *gitProvider {
	return &gitProvider{url: url, auth: checkout.TokenAuth(url, tokenFromEnv()), retry: defaultRetry, now: time.Now}
}

// gitSession is one operation's in-memory clone.
type gitSession struct {
	p    *gitProvider
	repo *gogit.Repository
}

func (p *gitProvider) session() (*gitSession, error) {
	repo, err := gogit.Init(memory.NewStorage(), nil)
	if err != nil {
		return nil, err
	}
	if _, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{p.url}}); err != nil {
		return nil, err
	}
	return &gitSession{p: p, repo: repo}, nil
}

// wrap adds context to an error from the remote, classifies it and keeps secrets out of it.
func (p *gitProvider) wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf(format, args...)
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod):
		err = fmt.Errorf("%s: %w: %w", msg, ErrAuth, err)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		err = fmt.Errorf("%s: %w: %w", msg, ErrNotFound, err)
	default:
		err = fmt.Errorf("%s: %w", msg, err)
	}
	return scrubSecrets(err, p.url)
}

// remoteHeads lists the remote's current value of each of branches that exists.
func (s *gitSession) remoteHeads(ctx context.Context, branches ...string) (map[string]plumbing.Hash, error) {
	rem, err := s.repo.Remote("origin")
	if err != nil {
		return nil, err
	}
	refs, err := rem.ListContext(ctx, &gogit.ListOptions{Auth: s.p.auth})
	if err != nil && !errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return nil, s.p.wrap(err, "listing refs of %s", redactURL(s.p.url))
	}
	heads := map[string]plumbing.Hash{}
	for _, ref := range refs {
		for _, b := range branches {
			if ref.Name() == plumbing.NewBranchReferenceName(b) {
				heads[b] = ref.Hash()
			}
		}
	}
	return heads, nil
}

// fetch brings the named branches that exist on the remote into the session and returns
// their heads; a branch missing from the result does not exist remotely.
func (s *gitSession) fetch(ctx context.Context, branches ...string) (map[string]plumbing.Hash, error) {
	listed, err := s.remoteHeads(ctx, branches...)
	if err != nil {
		return nil, err
	}
	var specs []gitconfig.RefSpec
	for _, b := range branches {
		if _, ok := listed[b]; ok {
			specs = append(specs, gitconfig.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/remotes/origin/%s", b, b)))
		}
	}
	if len(specs) > 0 {
		err := s.repo.FetchContext(ctx, &gogit.FetchOptions{RemoteName: "origin", Auth: s.p.auth, RefSpecs: specs, Tags: gogit.NoTags, Force: true})
		if err != nil && !errors.Is(err, gogit.NoErrAlreadyUpToDate) {
			return nil, s.p.wrap(err, "fetching %s from %s", strings.Join(branches, ", "), redactURL(s.p.url))
		}
	}
	heads := map[string]plumbing.Hash{}
	for _, b := range branches {
		if _, ok := listed[b]; !ok {
			continue
		}
		ref, err := s.repo.Reference(plumbing.NewRemoteReferenceName("origin", b), true)
		if err != nil {
			return nil, fmt.Errorf("reading fetched branch %q: %w", b, err)
		}
		heads[b] = ref.Hash()
	}
	return heads, nil
}

// fetchBranch fetches one branch that must exist.
func (s *gitSession) fetchBranch(ctx context.Context, branch string) (*object.Commit, error) {
	heads, err := s.fetch(ctx, branch)
	if err != nil {
		return nil, err
	}
	h, ok := heads[branch]
	if !ok {
		return nil, s.p.missingBranch(branch)
	}
	return s.repo.CommitObject(h)
}

func (p *gitProvider) missingBranch(branch string) error {
	return scrubSecrets(fmt.Errorf("%w: %w: %q in %s", ErrNotFound, ErrUnknownBranch, branch, redactURL(p.url)), p.url)
}

// push sends local commits to the remote: each entry of refs maps a branch to the commit it
// should point at; force allows non-fast-forward updates. Several branches go atomically.
// When the push fails, push looks at the remote: if it already has what we pushed (the
// error came after the update) that is success; otherwise the error is marked for a retry
// when the branches moved, since the caller then has to start over from the new heads.
func (s *gitSession) push(ctx context.Context, force bool, refs map[string]plumbing.Hash) error {
	var specs []gitconfig.RefSpec
	var names []string
	for b, h := range refs {
		local := plumbing.ReferenceName("refs/idp/push/" + b)
		if err := s.repo.Storer.SetReference(plumbing.NewHashReference(local, h)); err != nil {
			return err
		}
		spec := fmt.Sprintf("%s:refs/heads/%s", local, b)
		if force {
			spec = "+" + spec
		}
		specs = append(specs, gitconfig.RefSpec(spec))
		names = append(names, b)
	}
	sort.Strings(names)
	err := s.repo.PushContext(ctx, &gogit.PushOptions{RemoteName: "origin", Auth: s.p.auth, RefSpecs: specs, Atomic: len(specs) > 1})
	if err == nil || errors.Is(err, gogit.NoErrAlreadyUpToDate) {
		return nil
	}
	pushErr := s.p.wrap(err, "pushing %s to %s", strings.Join(names, ", "), redactURL(s.p.url))
	if errors.Is(pushErr, ErrAuth) || errors.Is(pushErr, ErrNotFound) || ctx.Err() != nil {
		return pushErr
	}
	now, lerr := s.remoteHeads(ctx, names...)
	if lerr != nil {
		return pushErr
	}
	landed := true
	for b, h := range refs {
		if now[b] != h {
			landed = false
		}
	}
	if landed {
		return nil
	}
	// Someone pushed in between (the usual cause), or the remote was briefly busy: either way
	// a new attempt on fresh heads is the fix; attempts are bounded by the caller.
	return retryLater(pushErr)
}

// readFile returns the content of path in commit c, or nil and false if it does not exist.
func readFile(c *object.Commit, path string) ([]byte, bool, error) {
	tree, err := c.Tree()
	if err != nil {
		return nil, false, err
	}
	f, err := tree.File(path)
	if errors.Is(err, object.ErrFileNotFound) || errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading %s at %s: %w", path, c.Hash, err)
	}
	r, err := f.Reader()
	if err != nil {
		return nil, false, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return b, true, err
}

// applyEdit runs c's edit on the file in commit parent and returns the new tree, or a zero
// hash when the edit changes nothing.
func (s *gitSession) applyEdit(parent *object.Commit, path string, edit Edit) (plumbing.Hash, error) {
	old, exists, err := readFile(parent, path)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	updated, err := edit(old)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("editing %s: %w", path, err)
	}
	if exists && bytes.Equal(old, updated) || !exists && updated == nil {
		return plumbing.ZeroHash, nil
	}
	blob, err := s.writeBlob(updated)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	mode := filemode.Regular
	if e, err := findEntry(s.repo.Storer, parent.TreeHash, path); err == nil && e != nil && e.Mode == filemode.Executable {
		mode = filemode.Executable
	}
	return setTreeEntry(s.repo.Storer, parent.TreeHash, strings.Split(path, "/"), &object.TreeEntry{Mode: mode, Hash: blob})
}

func (s *gitSession) writeBlob(b []byte) (plumbing.Hash, error) {
	obj := s.repo.Storer.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(b); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.repo.Storer.SetEncodedObject(obj)
}

// writeCommit stores a commit of tree on parent. author nil means idp (or the configured
// author) now.
func (s *gitSession) writeCommit(parent plumbing.Hash, tree plumbing.Hash, msg string, author *object.Signature) (plumbing.Hash, error) {
	name, email, _ := authorFromEnv()
	committer := object.Signature{Name: name, Email: email, When: s.p.now()}
	if author == nil {
		author = &committer
	}
	c := &object.Commit{Author: *author, Committer: committer, Message: msg, TreeHash: tree, ParentHashes: []plumbing.Hash{parent}}
	obj := s.repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.repo.Storer.SetEncodedObject(obj)
}

// findEntry returns the entry at path under tree root, or nil if there is none.
func findEntry(s storer.EncodedObjectStorer, root plumbing.Hash, path string) (*object.TreeEntry, error) {
	t, err := object.GetTree(s, root)
	if err != nil {
		return nil, err
	}
	e, err := t.FindEntry(path)
	if errors.Is(err, object.ErrEntryNotFound) || errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrFileNotFound) {
		return nil, nil
	}
	return e, err
}

// setTreeEntry returns the hash of tree root with the entry at parts replaced by entry (its
// Name is set here), or removed when entry is nil; missing directories are created and
// emptied ones dropped. root may be zero for an empty tree.
func setTreeEntry(s storer.EncodedObjectStorer, root plumbing.Hash, parts []string, entry *object.TreeEntry) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	if !root.IsZero() {
		t, err := object.GetTree(s, root)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = append(entries, t.Entries...)
	}
	name := parts[0]
	idx := -1
	for i, e := range entries {
		if e.Name == name {
			idx = i
		}
	}
	var next *object.TreeEntry
	if len(parts) == 1 {
		if idx >= 0 && entries[idx].Mode == filemode.Dir && entry != nil && entry.Mode != filemode.Dir {
			return plumbing.ZeroHash, fmt.Errorf("%s is a directory, not a file", name)
		}
		if entry != nil {
			next = &object.TreeEntry{Name: name, Mode: entry.Mode, Hash: entry.Hash}
		}
	} else {
		sub := plumbing.ZeroHash
		if idx >= 0 {
			if entries[idx].Mode != filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("%s is a file, not a directory", name)
			}
			sub = entries[idx].Hash
		}
		h, err := setTreeEntry(s, sub, parts[1:], entry)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if !h.IsZero() {
			next = &object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
		}
	}
	switch {
	case idx >= 0 && next != nil:
		entries[idx] = *next
	case idx >= 0:
		entries = append(entries[:idx], entries[idx+1:]...)
	case next != nil:
		entries = append(entries, *next)
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, nil
	}
	// Git orders entries by name, comparing a directory as if its name ended in "/".
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
	obj := s.NewEncodedObject()
	if err := (&object.Tree{Entries: entries}).Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}

// Commit implements Provider.
func (p *gitProvider) Commit(ctx context.Context, branch string, c Change) (CommitResult, error) {
	path, err := cleanRepoPath(c.Path)
	if err != nil {
		return CommitResult{}, err
	}
	s, err := p.session()
	if err != nil {
		return CommitResult{}, err
	}
	var res CommitResult
	err = p.retry.do(ctx, func() error {
		tip, err := s.fetchBranch(ctx, branch)
		if err != nil {
			return err
		}
		tree, err := s.applyEdit(tip, path, c.Edit)
		if err != nil {
			return err
		}
		if tree.IsZero() {
			res = CommitResult{Commit: tip.Hash.String()}
			return nil
		}
		h, err := s.writeCommit(tip.Hash, tree, c.Message, nil)
		if err != nil {
			return err
		}
		if err := s.push(ctx, false, map[string]plumbing.Hash{branch: h}); err != nil {
			return err
		}
		res = CommitResult{Commit: h.String(), Changed: true}
		return nil
	})
	if err != nil {
		return CommitResult{}, fmt.Errorf("committing %s to %s: %w", path, branch, err)
	}
	return res, nil
}

// Propose implements Provider: the proposal is branch head, one commit on base's head.
func (p *gitProvider) Propose(ctx context.Context, base, head string, c Change, _, _ string) (Proposal, error) {
	path, err := cleanRepoPath(c.Path)
	if err != nil {
		return Proposal{}, err
	}
	if head == "" || head == base {
		return Proposal{}, fmt.Errorf("proposal branch %q must be set and differ from base %q", head, base)
	}
	s, err := p.session()
	if err != nil {
		return Proposal{}, err
	}
	var prop Proposal
	err = p.retry.do(ctx, func() error {
		heads, err := s.fetch(ctx, base, head)
		if err != nil {
			return err
		}
		baseTip, ok := heads[base]
		if !ok {
			return p.missingBranch(base)
		}
		baseCommit, err := s.repo.CommitObject(baseTip)
		if err != nil {
			return err
		}
		tree, err := s.applyEdit(baseCommit, path, c.Edit)
		if err != nil {
			return err
		}
		if tree.IsZero() {
			prop = Proposal{Base: base, Commit: baseTip.String()}
			return nil
		}
		if headTip, ok := heads[head]; ok {
			hc, err := s.repo.CommitObject(headTip)
			if err != nil {
				return err
			}
			if len(hc.ParentHashes) == 1 && hc.ParentHashes[0] == baseTip && hc.TreeHash == tree {
				prop = Proposal{Base: base, Head: head, Commit: headTip.String()}
				return nil // an earlier attempt already made exactly this branch
			}
		}
		h, err := s.writeCommit(baseTip, tree, c.Message, nil)
		if err != nil {
			return err
		}
		if err := s.push(ctx, true, map[string]plumbing.Hash{head: h}); err != nil {
			return err
		}
		prop = Proposal{Base: base, Head: head, Commit: h.String()}
		return nil
	})
	if err != nil {
		return Proposal{}, fmt.Errorf("proposing %s on %s: %w", path, head, err)
	}
	return prop, nil
}

// UpdateProposal implements Provider; a plain branch has no description to update.
func (p *gitProvider) UpdateProposal(context.Context, Proposal, string) error { return nil }

// Merge implements Provider. When base has not moved, base is fast-forwarded to head. When
// it has, head's changes are re-created file by file on base's new head (a file base changed
// too is a conflict, unless both sides agree), and head and base are pushed together
// atomically so that a retried Merge finds head inside base and returns the same commit.
func (p *gitProvider) Merge(ctx context.Context, prop Proposal) (CommitResult, error) {
	if prop.Head == "" {
		return CommitResult{Commit: prop.Commit}, nil
	}
	s, err := p.session()
	if err != nil {
		return CommitResult{}, err
	}
	var res CommitResult
	err = p.retry.do(ctx, func() error {
		heads, err := s.fetch(ctx, prop.Base, prop.Head)
		if err != nil {
			return err
		}
		baseTip, ok := heads[prop.Base]
		if !ok {
			return p.missingBranch(prop.Base)
		}
		baseCommit, err := s.repo.CommitObject(baseTip)
		if err != nil {
			return err
		}
		headTip, ok := heads[prop.Head]
		if !ok {
			// The branch is gone: fine if it was merged before and then deleted.
			if prop.Commit != "" {
				if pc, err := s.repo.CommitObject(plumbing.NewHash(prop.Commit)); err == nil {
					if in, err := pc.IsAncestor(baseCommit); err == nil && in {
						res = CommitResult{Commit: prop.Commit, Changed: true}
						return nil
					}
				}
			}
			return p.missingBranch(prop.Head)
		}
		headCommit, err := s.repo.CommitObject(headTip)
		if err != nil {
			return err
		}
		merged, err := headCommit.IsAncestor(baseCommit)
		if err != nil {
			return err
		}
		if merged {
			res = CommitResult{Commit: headTip.String(), Changed: true}
			return nil
		}
		ff, err := baseCommit.IsAncestor(headCommit)
		if err != nil {
			return err
		}
		if ff {
			if err := s.push(ctx, false, map[string]plumbing.Hash{prop.Base: headTip}); err != nil {
				return err
			}
			res = CommitResult{Commit: headTip.String(), Changed: true}
			return nil
		}
		h, err := s.rebase(headCommit, baseCommit)
		if err != nil {
			return err
		}
		if err := s.push(ctx, true, map[string]plumbing.Hash{prop.Head: h, prop.Base: h}); err != nil {
			return err
		}
		res = CommitResult{Commit: h.String(), Changed: true}
		return nil
	})
	if err != nil {
		return CommitResult{}, fmt.Errorf("merging %s into %s: %w", prop.Head, prop.Base, err)
	}
	return res, nil
}

// rebase re-creates what head changed since its merge base with base as one commit on base,
// keeping head's message and author.
func (s *gitSession) rebase(head, base *object.Commit) (plumbing.Hash, error) {
	bases, err := head.MergeBase(base)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if len(bases) == 0 {
		return plumbing.ZeroHash, fmt.Errorf("%w: %s and %s share no history", ErrNotMergeable, head.Hash, base.Hash)
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
			continue // base already has it
		case !sameEntry(now, was):
			return plumbing.ZeroHash, fmt.Errorf("%w: %s was changed on both branches", ErrNotMergeable, path)
		}
		if tree, err = setTreeEntry(s.repo.Storer, tree, strings.Split(path, "/"), want); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	author := head.Author
	return s.writeCommit(base.Hash, tree, head.Message, &author)
}

func sameEntry(a, b *object.TreeEntry) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Hash == b.Hash && a.Mode == b.Mode
}
