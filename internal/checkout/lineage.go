package checkout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Lineage is how a later commit relates to an earlier one, with one file as the later commit
// holds it.
type Lineage struct {
	// Descends is true when commit is the earlier commit or one of its descendants.
	Descends bool
	// File is the file's content at commit; nil when the file does not exist there.
	File []byte
}

// Lineage reports whether commit descends from ancestor, with path's content at commit. Argo
// CD may already run a commit newer than the one a promotion wrote (another service's
// promotion, a docs change): what matters then is that the newer commit still carries what
// the promotion wrote.
//
// The worker's health waits ask this of every revision Argo CD reports, a hundred waits at
// once in a busy env, so they share one in-memory copy of the remote per URL (commits never
// change): it fetches the remote's branches only when a commit asked about is not in it yet,
// and only what is new. The copy is started afresh every lineageFor, so it does not grow for
// the worker's life.
func (r Repo) Lineage(ctx context.Context, ancestor, commit, path string) (Lineage, error) {
	v, _ := lineages.LoadOrStore(r.URL, &lineageRepo{})
	lr := v.(*lineageRepo)
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if lr.repo == nil || time.Since(lr.started) > lineageFor {
		repo, err := git.Init(memory.NewStorage(), nil)
		if err != nil {
			return Lineage{}, err
		}
		if _, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{r.URL}}); err != nil {
			return Lineage{}, err
		}
		lr.repo, lr.started = repo, time.Now()
	}
	later, earlier, err := lr.commits(ctx, r, commit, ancestor)
	if err != nil {
		return Lineage{}, err
	}
	var out Lineage
	if out.Descends = later.Hash == earlier.Hash; !out.Descends {
		if out.Descends, err = earlier.IsAncestor(later); err != nil {
			return Lineage{}, fmt.Errorf("walking %s back to %s: %w", commit, ancestor, err)
		}
	}
	f, err := later.File(path)
	switch {
	case errors.Is(err, object.ErrFileNotFound):
		return out, nil
	case err != nil:
		return Lineage{}, fmt.Errorf("reading %s at %s: %w", path, commit, err)
	}
	content, err := f.Contents()
	if err != nil {
		return Lineage{}, fmt.Errorf("reading %s at %s: %w", path, commit, err)
	}
	out.File = []byte(content)
	return out, nil
}

// lineageFor is how long a shared copy serves before it is started afresh.
const lineageFor = 30 * time.Minute

// lineages holds one lineageRepo per remote URL.
var lineages sync.Map

// lineageRepo is the shared in-memory copy of one remote; mu guards it (go-git repositories
// are not safe for concurrent use).
type lineageRepo struct {
	mu      sync.Mutex
	repo    *git.Repository
	started time.Time
}

// commits returns the two commits, fetching the remote's branches first when either is not
// in the copy yet.
func (lr *lineageRepo) commits(ctx context.Context, r Repo, later, earlier string) (*object.Commit, *object.Commit, error) {
	l, lerr := lr.repo.CommitObject(plumbing.NewHash(later))
	e, eerr := lr.repo.CommitObject(plumbing.NewHash(earlier))
	if lerr == nil && eerr == nil {
		return l, e, nil
	}
	err := lr.repo.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", Auth: r.Auth,
		RefSpecs: []gitconfig.RefSpec{"+refs/heads/*:refs/remotes/origin/*"}, Tags: git.NoTags})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil, nil, fmt.Errorf("fetching %s: %w", r.URL, err)
	}
	if l, err = lr.repo.CommitObject(plumbing.NewHash(later)); err != nil {
		return nil, nil, fmt.Errorf("%w: %s in %s", ErrUnknownCommit, later, r.URL)
	}
	if e, err = lr.repo.CommitObject(plumbing.NewHash(earlier)); err != nil {
		return nil, nil, fmt.Errorf("%w: %s in %s", ErrUnknownCommit, earlier, r.URL)
	}
	return l, e, nil
}
