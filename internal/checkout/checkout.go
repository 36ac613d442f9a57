// Package checkout gives activities the platform repository at one commit: it resolves a
// branch to a commit and keeps read-only checkouts of exact commits in a cache directory.
// Credentials are handed in by the worker, never read from the environment here.
package checkout

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Repo is the platform repository as one worker reaches it.
type Repo struct {
	// URL is the remote (https://, ssh, file:// or a local path).
	URL string
	// Auth is the worker's credential for URL; nil for local and file remotes.
	Auth transport.AuthMethod
	// CacheDir holds the checkouts, one directory per commit.
	CacheDir string
}

// TokenAuth is the credential for a token (a GitHub or GitLab access token) on an https
// remote; for any other remote, or without a token, it is nil.
func TokenAuth(url, token string) transport.AuthMethod {
	if !strings.HasPrefix(url, "https://") || token == "" {
		return nil
	}
	return &http.BasicAuth{Username: "x-access-token", Password: token}
}

// ResolveCommit returns the commit the branch of the remote points at now. A full reference
// name ("refs/pull/7/head") is taken as it is.
func (r Repo) ResolveCommit(ctx context.Context, branch string) (string, error) {
	url := r.URL
	rem := git.NewRemote(memory.NewStorage(), &gitconfig.RemoteConfig{Name: "origin", URLs: []string{url}})
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: r.Auth})
	if err != nil {
		return "", fmt.Errorf("listing refs of %s: %w", url, err)
	}
	want := plumbing.NewBranchReferenceName(branch)
	if strings.HasPrefix(branch, "refs/") {
		want = plumbing.ReferenceName(branch)
	}
	for _, ref := range refs {
		if ref.Name() == want {
			return ref.Hash().String(), nil
		}
	}
	return "", fmt.Errorf("%w: %q in %s", ErrUnknownBranch, branch, url)
}

// ErrUnknownBranch means the remote has no such branch.
var ErrUnknownBranch = errors.New("branch not found")

// ErrUnknownCommit means the remote does not have the commit asked for.
var ErrUnknownCommit = errors.New("commit not found in the repository")

// Checkout returns a directory holding the repository's tree at commit, under CacheDir.
// Checkouts are keyed by commit and reused; a half-written one is never returned, because
// the directory only gets its final name once the checkout is complete.
func (r Repo) Checkout(ctx context.Context, commit string) (string, error) {
	url := r.URL
	if len(commit) != 40 {
		return "", fmt.Errorf("checkout needs a full commit hash, got %q", commit)
	}
	dir := filepath.Join(r.CacheDir, "checkouts", commit)
	if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), commit+".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	repo, err := git.PlainInitWithOptions(tmp, &git.PlainInitOptions{})
	if err != nil {
		return "", fmt.Errorf("init checkout: %w", err)
	}
	if _, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{url}}); err != nil {
		return "", err
	}
	err = repo.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", Auth: r.Auth,
		RefSpecs: []gitconfig.RefSpec{"+refs/heads/*:refs/remotes/origin/*"}, Tags: git.NoTags})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return "", fmt.Errorf("fetching %s: %w", url, err)
	}
	if _, err := repo.CommitObject(plumbing.NewHash(commit)); err != nil {
		// A preview's commit may be a pull request's head that no branch of the remote holds
		// (refs/pull/<N>/head): look there too, only when the branches do not have it.
		err = repo.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", Auth: r.Auth,
			RefSpecs: []gitconfig.RefSpec{"+refs/pull/*/head:refs/remotes/origin/pull/*"}, Tags: git.NoTags})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) && !isNoMatchingRef(err) {
			return "", fmt.Errorf("fetching pull request heads of %s: %w", url, err)
		}
		if _, err := repo.CommitObject(plumbing.NewHash(commit)); err != nil {
			return "", fmt.Errorf("%w: %s in %s", ErrUnknownCommit, commit, url)
		}
	}
	wt, err := repo.Worktree()
	if err != nil {
		return "", err
	}
	if err := wt.Checkout(&git.CheckoutOptions{Hash: plumbing.NewHash(commit), Force: true}); err != nil {
		return "", fmt.Errorf("checking out %s: %w", commit, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, ".git")); statErr == nil {
			return dir, nil // another activity finished the same checkout first
		}
		return "", err
	}
	return dir, nil
}

// isNoMatchingRef reports go-git's error for a refspec that matches nothing on the remote (a
// remote without pull request refs).
func isNoMatchingRef(err error) bool {
	var nm git.NoMatchingRefSpecError
	return errors.As(err, &nm)
}
