package gitremote

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	gogit "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/internal/retry"
)

// session is one operation's in-memory clone.
type session struct {
	p    *provider
	repo *gogit.Repository
	// shallow fetches only the branches' tips (depth 1): enough to write a commit on a tip,
	// and its cost does not grow with the history behind it. A merge needs the history.
	shallow bool
	// fetched says the session has fetched before.
	fetched bool
}

func (p *provider) session() (*session, error) {
	repo, err := gogit.Init(memory.NewStorage(), nil)
	if err != nil {
		return nil, err
	}
	if _, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{p.url}}); err != nil {
		return nil, p.scrub(err)
	}
	return &session{p: p, repo: repo}, nil
}

// remoteHeads lists the remote's current value of each of branches that exists.
func (s *session) remoteHeads(ctx context.Context, branches ...string) (map[string]plumbing.Hash, error) {
	rem, err := s.repo.Remote("origin")
	if err != nil {
		return nil, err
	}
	refs, err := rem.ListContext(ctx, &gogit.ListOptions{Auth: s.p.auth})
	if err != nil && !errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return nil, s.p.wrap(err, "listing refs of %s", s.p.remote())
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
func (s *session) fetch(ctx context.Context, branches ...string) (map[string]plumbing.Hash, error) {
	listed, err := s.remoteHeads(ctx, branches...)
	if err != nil {
		return nil, err
	}
	var specs []gitconfig.RefSpec
	for _, b := range branches {
		if _, ok := listed[b]; ok {
			// "+" only lets this session's in-memory tracking refs follow the remote; it
			// never touches the remote.
			specs = append(specs, gitconfig.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/remotes/origin/%s", b, b)))
		}
	}
	if len(specs) > 0 {
		opts := &gogit.FetchOptions{RemoteName: "origin", Auth: s.p.auth, RefSpecs: specs, Tags: gogit.NoTags, Force: true}
		if s.shallow && !s.fetched {
			// Later fetches of the session bring only what is new since the first.
			opts.Depth = 1
		}
		err := s.repo.FetchContext(ctx, opts)
		if err != nil && !errors.Is(err, gogit.NoErrAlreadyUpToDate) {
			return nil, s.p.wrap(err, "fetching %s from %s", strings.Join(branches, ", "), s.p.remote())
		}
		s.fetched = true
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
func (s *session) fetchBranch(ctx context.Context, branch string) (*object.Commit, error) {
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

// pusher is the session's repository seen through tipView, for pushing updates.
func (s *session) pusher(updates []refUpdate) (*gogit.Repository, error) {
	view := &tipView{Storer: s.repo.Storer, commits: map[plumbing.Hash]bool{}}
	for _, u := range updates {
		view.commits[u.from], view.commits[u.to] = true, true
		for _, to := range append([]plumbing.Hash{u.to}, u.chain...) {
			c, err := s.repo.CommitObject(to)
			if err != nil {
				return nil, err
			}
			view.commits[to] = true
			for _, h := range c.ParentHashes {
				view.commits[h] = true
			}
		}
	}
	return gogit.Open(view, nil)
}

// tipView shows a push only the commits it moves branches between (and a group's chain), and
// their parents: any other commit reads as missing, as in a shallow clone. go-git works out
// what to send by walking everything reachable from every ref the remote advertises, so over
// the full history of a busy branch each push would cost time that grows with the square of the
// history (every commit's whole tree), long enough for the branch to move again before it
// lands. Seen through the view, that walk stops at the tips, and what is sent is the same: the
// new commits and the objects the remote's tips do not have.
type tipView struct {
	storage.Storer
	commits map[plumbing.Hash]bool
}

// EncodedObject hides every commit outside the view.
func (v *tipView) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	o, err := v.Storer.EncodedObject(t, h)
	if err == nil && o.Type() == plumbing.CommitObject && !v.commits[h] {
		return nil, plumbing.ErrObjectNotFound
	}
	return o, err
}

// refUpdate moves branch from the commit an attempt read (zero: it saw no such branch) to to.
// chain lists the commits between them when there are several (a group commit), so the push
// sees each of them.
type refUpdate struct {
	branch   string
	from, to plumbing.Hash
	chain    []plumbing.Hash
}

// push sends local commits to the remote, all updates atomically, each a compare-and-swap
// against the tip the attempt read: RequireRemoteRefs refuses the push unless the remote still
// advertises from, and the server checks that old value again under its ref lock, so a commit
// that landed after our fetch is never dropped. A rewrite (non-fast-forward) is allowed only
// for a proposal branch that existed when we read it; every other update, the base's above
// all, must fast-forward. When the push fails, push looks at the remote: if it already has
// what we pushed (the error came after the update) that is success; otherwise the error is
// marked for a retry when the branches moved, since the caller then has to start over.
func (s *session) push(ctx context.Context, updates ...refUpdate) error {
	var specs, require []gitconfig.RefSpec
	var names []string
	for _, u := range updates {
		local := plumbing.ReferenceName("refs/idp/push/" + u.branch)
		if err := s.repo.Storer.SetReference(plumbing.NewHashReference(local, u.to)); err != nil {
			return err
		}
		spec := fmt.Sprintf("%s:refs/heads/%s", local, u.branch)
		if !u.from.IsZero() {
			require = append(require, gitconfig.RefSpec(fmt.Sprintf("%s:refs/heads/%s", u.from, u.branch)))
			if strings.HasPrefix(u.branch, git.ProposalPrefix) {
				spec = "+" + spec // safe: idp alone writes proposal branches, and only from u.from
			}
		}
		specs = append(specs, gitconfig.RefSpec(spec))
		names = append(names, u.branch)
	}
	sort.Strings(names)
	pusher, err := s.pusher(updates)
	if err != nil {
		return err
	}
	err = pusher.PushContext(ctx, &gogit.PushOptions{RemoteName: "origin", Auth: s.p.auth, RefSpecs: specs,
		RequireRemoteRefs: require, Atomic: len(specs) > 1})
	if err == nil || errors.Is(err, gogit.NoErrAlreadyUpToDate) {
		return nil
	}
	pushErr := s.p.wrap(err, "pushing %s to %s", strings.Join(names, ", "), s.p.remote())
	if errors.Is(pushErr, git.ErrAuth) || errors.Is(pushErr, git.ErrNotFound) || ctx.Err() != nil {
		return pushErr
	}
	now, lerr := s.remoteHeads(ctx, names...)
	if lerr != nil {
		return pushErr
	}
	for _, u := range updates {
		if now[u.branch] != u.to {
			// Someone pushed in between (the usual cause), or the remote was briefly busy:
			// either way a new attempt on fresh heads is the fix; the caller bounds attempts.
			return retry.Later(pushErr)
		}
	}
	return nil
}
