package gitremote

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/alexpermiakov/idp/activities/git"
)

// readFile returns the content of path in commit c, or nil and false if it does not exist.
func readFile(c *object.Commit, path string) ([]byte, bool, error) {
	tree, err := c.Tree()
	if err != nil {
		return nil, false, err
	}
	f, err := tree.File(path)
	if isMissing(err) {
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

// isMissing reports whether err is one of go-git's ways of saying a tree has no such path.
func isMissing(err error) bool {
	return errors.Is(err, object.ErrFileNotFound) || errors.Is(err, object.ErrDirectoryNotFound) ||
		errors.Is(err, object.ErrEntryNotFound)
}

// applyChange applies c to the file in commit parent and returns the new tree, or a zero
// hash when the edit changes nothing. An executable file stays executable.
func (s *session) applyChange(parent *object.Commit, c git.Change) (plumbing.Hash, error) {
	old, exists, err := readFile(parent, c.Path)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	updated, changed, err := c.Apply(old, exists)
	if err != nil || !changed {
		return plumbing.ZeroHash, err
	}
	blob, err := s.writeBlob(updated)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	mode := filemode.Regular
	if e, err := findEntry(s.repo.Storer, parent.TreeHash, c.Path); err == nil && e != nil && e.Mode == filemode.Executable {
		mode = filemode.Executable
	}
	return setTreeEntry(s.repo.Storer, parent.TreeHash, strings.Split(c.Path, "/"), &object.TreeEntry{Mode: mode, Hash: blob})
}

func (s *session) writeBlob(b []byte) (plumbing.Hash, error) {
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

// writeCommit stores a commit of tree on parent, committed by the provider's author now;
// author nil means that committer is the author too.
func (s *session) writeCommit(parent plumbing.Hash, tree plumbing.Hash, msg string, author *object.Signature) (plumbing.Hash, error) {
	committer := object.Signature{Name: s.p.author.Name, Email: s.p.author.Email, When: s.p.now()}
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
	if isMissing(err) {
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
	var old *object.TreeEntry
	if idx >= 0 {
		old = &entries[idx]
	}
	next, err := nextEntry(s, old, name, parts, entry)
	if err != nil {
		return plumbing.ZeroHash, err
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
	return writeTree(s, entries)
}

// nextEntry is what replaces old, the entry called name in the tree setTreeEntry is editing:
// entry itself at the end of parts, else the rewritten subtree (nil once it is empty).
func nextEntry(s storer.EncodedObjectStorer, old *object.TreeEntry, name string, parts []string, entry *object.TreeEntry) (*object.TreeEntry, error) {
	if len(parts) == 1 {
		if old != nil && old.Mode == filemode.Dir && entry != nil && entry.Mode != filemode.Dir {
			return nil, fmt.Errorf("%s is a directory, not a file", name)
		}
		if entry == nil {
			return nil, nil
		}
		return &object.TreeEntry{Name: name, Mode: entry.Mode, Hash: entry.Hash}, nil
	}
	sub := plumbing.ZeroHash
	if old != nil {
		if old.Mode != filemode.Dir {
			return nil, fmt.Errorf("%s is a file, not a directory", name)
		}
		sub = old.Hash
	}
	h, err := setTreeEntry(s, sub, parts[1:], entry)
	if err != nil || h.IsZero() {
		return nil, err
	}
	return &object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}, nil
}

// writeTree stores a tree of entries in Git's order: by name, comparing a directory as if its
// name ended in "/".
func writeTree(s storer.EncodedObjectStorer, entries []object.TreeEntry) (plumbing.Hash, error) {
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

func sameEntry(a, b *object.TreeEntry) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Hash == b.Hash && a.Mode == b.Mode
}
