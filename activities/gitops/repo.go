// Package gitops owns idp's access to the platform Git repository: resolving the branch to a
// commit, and checkouts of exactly that commit for the activities that read the repository.
package gitops

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

// auth returns credentials for url from the worker's environment, never from workflow data:
// $IDP_GIT_TOKEN or $GITHUB_TOKEN for https remotes, nothing for local and file remotes.
func auth(url string) transport.AuthMethod {
	if !strings.HasPrefix(url, "https://") {
		return nil
	}
	for _, name := range []string{"IDP_GIT_TOKEN", "GITHUB_TOKEN"} {
		if tok := os.Getenv(name); tok != "" {
			return &http.BasicAuth{Username: "x-access-token", Password: tok}
		}
	}
	return nil
}

// ResolveCommit returns the commit the branch of the remote points at now.
func ResolveCommit(ctx context.Context, url, branch string) (string, error) {
	rem := git.NewRemote(memory.NewStorage(), &gitconfig.RemoteConfig{Name: "origin", URLs: []string{url}})
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: auth(url)})
	if err != nil {
		return "", fmt.Errorf("listing refs of %s: %w", url, err)
	}
	want := plumbing.NewBranchReferenceName(branch)
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

// Checkout returns a directory holding the repository's tree at commit, under cacheDir.
// Checkouts are keyed by commit and reused; a half-written one is never returned, because
// the directory only gets its final name once the checkout is complete.
func Checkout(ctx context.Context, url, commit, cacheDir string) (string, error) {
	if len(commit) != 40 {
		return "", fmt.Errorf("checkout needs a full commit hash, got %q", commit)
	}
	dir := filepath.Join(cacheDir, "checkouts", commit)
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
	err = repo.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", Auth: auth(url),
		RefSpecs: []gitconfig.RefSpec{"+refs/heads/*:refs/remotes/origin/*"}, Tags: git.NoTags})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return "", fmt.Errorf("fetching %s: %w", url, err)
	}
	if _, err := repo.CommitObject(plumbing.NewHash(commit)); err != nil {
		return "", fmt.Errorf("%w: %s in %s", ErrUnknownCommit, commit, url)
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
