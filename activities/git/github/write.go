package github

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-github/v62/github"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/internal/retry"
)

// branchHead returns the commit branch points at.
func (p *provider) branchHead(ctx context.Context, branch string) (string, error) {
	ref, _, err := p.client.GetRef(ctx, p.owner, p.repo, "heads/"+branch)
	if status(err) == http.StatusNotFound {
		return "", fmt.Errorf("%w: %w: %q in %s/%s", git.ErrNotFound, git.ErrUnknownBranch, branch, p.owner, p.repo)
	}
	if err != nil {
		return "", p.classify(err, "reading branch %q of %s/%s", branch, p.owner, p.repo)
	}
	return ref.GetObject().GetSHA(), nil
}

// readFile returns path's content and blob sha at commit ref; exists is false when there is
// no such file.
func (p *provider) readFile(ctx context.Context, path, ref string) (content []byte, blob string, exists bool, err error) {
	fc, _, _, err := p.client.GetContents(ctx, p.owner, p.repo, path, &github.RepositoryContentGetOptions{Ref: ref})
	if status(err) == http.StatusNotFound {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, p.classify(err, "reading %s at %s", path, ref)
	}
	if fc == nil {
		return nil, "", false, fmt.Errorf("%s at %s is a directory", path, ref)
	}
	s, err := fc.GetContent()
	if err != nil {
		return nil, "", false, fmt.Errorf("reading %s at %s: %w", path, ref, err)
	}
	return []byte(s), fc.GetSHA(), true, nil
}

// putFile commits content as path on branch, replacing the blob blob ("" when creating the
// file). GitHub answers 409 or 422 when the file is no longer that blob, i.e. someone wrote
// it meanwhile: that is returned for a retry on the new head.
func (p *provider) putFile(ctx context.Context, branch, path, blob string, content []byte, msg string) (string, error) {
	opts := &github.RepositoryContentFileOptions{Message: &msg, Content: content, Branch: &branch}
	if blob != "" {
		opts.SHA = &blob
	}
	if p.author != (git.Author{}) {
		who := &github.CommitAuthor{Name: &p.author.Name, Email: &p.author.Email}
		opts.Author, opts.Committer = who, who
	}
	res, _, err := p.client.UpdateFile(ctx, p.owner, p.repo, path, opts)
	switch st := status(err); {
	case err == nil:
		return res.Commit.GetSHA(), nil
	case st == http.StatusConflict || st == http.StatusUnprocessableEntity:
		return "", retry.Later(p.scrub(fmt.Errorf("writing %s on %s (the branch moved): %w", path, branch, err)))
	}
	return "", p.classify(err, "writing %s on %s", path, branch)
}

// edited is a file read at a branch's head with an edit applied to it.
type edited struct {
	tip, blob string
	updated   []byte
	// same is true when the edit changes nothing.
	same bool
}

// editAtHead reads c's file at branch's current head and applies c's edit.
func (p *provider) editAtHead(ctx context.Context, branch string, c git.Change) (edited, error) {
	tip, err := p.branchHead(ctx, branch)
	if err != nil {
		return edited{}, err
	}
	old, blob, exists, err := p.readFile(ctx, c.Path, tip)
	if err != nil {
		return edited{}, err
	}
	updated, changed, err := c.Apply(old, exists)
	if err != nil {
		return edited{}, err
	}
	return edited{tip: tip, blob: blob, updated: updated, same: !changed}, nil
}

// Commit implements git.Provider.
func (p *provider) Commit(ctx context.Context, branch string, c git.Change) (git.CommitResult, error) {
	path, err := c.CleanPath()
	if err != nil {
		return git.CommitResult{}, err
	}
	c.Path = path
	var res git.CommitResult
	// A write that failed without an answer (5xx, timeout) may still have landed; if the edit
	// then turns out to be in place already, it was most likely ours.
	uncertain := false
	err = p.retry.Do(ctx, func() error {
		ed, err := p.editAtHead(ctx, branch, c)
		if err != nil {
			return err
		}
		if ed.same {
			res = git.CommitResult{Commit: ed.tip, Changed: uncertain}
			return nil
		}
		sha, err := p.putFile(ctx, branch, path, ed.blob, ed.updated, c.Message)
		if err != nil {
			if st := status(err); st != http.StatusConflict && st != http.StatusUnprocessableEntity {
				uncertain = true
			}
			return err
		}
		res = git.CommitResult{Commit: sha, Changed: true}
		return nil
	})
	if err != nil {
		return git.CommitResult{}, fmt.Errorf("committing %s to %s: %w", path, branch, err)
	}
	return res, nil
}
