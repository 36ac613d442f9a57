package gitremote

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/alexpermiakov/idp/activities/git"
)

// writers holds the state of each remote branch this process writes to (url and branch): the
// worker's own writes to a branch take turns instead of racing each other, and commits that
// queue up behind a turn go out together. A hundred promotions committing to main at once
// otherwise fetch, lose the push to one of them, back off and fetch again, each round a
// hundred fetches for one commit; in turn, each write is one fetch and one push; grouped, a
// queue of them is one fetch, a chain of commits (one per caller, each with its own message
// and hash) and one push. Writers elsewhere (another worker, a person) still race, and the
// push's compare-and-swap with the retry settles that.
// A provider holds the process's registry; a test gives one its own to play a writer in
// another process.
var writers sync.Map // url + "\x00" + branch → *branchWrites

// maxGroup bounds the commits one push carries: a push lost to an outside writer makes the
// whole group start over.
const maxGroup = 64

// branchWrites is one remote branch's turn and its queue of commits.
type branchWrites struct {
	slot chan struct{} // held by whoever writes the branch now
	mu   sync.Mutex
	// queued are the commits waiting for the next group; committing says a goroutine is
	// taking groups off the queue (it stops when the queue is empty).
	queued     []*queuedCommit
	committing bool
}

// queuedCommit is one caller's Commit waiting in its branch's queue.
type queuedCommit struct {
	ctx    context.Context
	change git.Change
	res    git.CommitResult
	err    error
	done   chan struct{} // closed once res and err are final
}

func (p *provider) branch(branch string) *branchWrites {
	v, _ := p.writers.LoadOrStore(p.url+"\x00"+branch, &branchWrites{slot: make(chan struct{}, 1)})
	return v.(*branchWrites)
}

// turn waits for the branch's slot, or for ctx to end; done frees it.
func (p *provider) turn(ctx context.Context, branch string) (done func(), err error) {
	slot := p.branch(branch).slot
	select {
	case slot <- struct{}{}:
		return func() { <-slot }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// commitQueued queues c for branch and waits until its group has landed (or failed), or ctx
// ends. A caller that gives up before its group is formed is left out of it; one that gives up
// later may still see its change land, as with a push in flight, and a rerun then finds
// nothing left to change.
func (p *provider) commitQueued(ctx context.Context, branch string, c git.Change) (git.CommitResult, error) {
	b := p.branch(branch)
	q := &queuedCommit{ctx: ctx, change: c, done: make(chan struct{})}
	b.mu.Lock()
	b.queued = append(b.queued, q)
	start := !b.committing
	b.committing = true
	b.mu.Unlock()
	if start {
		go p.commitGroups(branch, b)
	}
	select {
	case <-q.done:
		return q.res, q.err
	case <-ctx.Done():
		return git.CommitResult{}, ctx.Err()
	}
}

// commitGroups lands the branch's queue, a group at a time, until it is empty. It takes the
// branch's turn before it forms a group, so what queues while another write (a merge, the
// previous group) holds the branch goes out together.
func (p *provider) commitGroups(branch string, b *branchWrites) {
	for {
		b.slot <- struct{}{}
		group := b.nextGroup()
		if len(group) > 0 {
			p.commitGroup(branch, group)
		}
		<-b.slot
		if len(group) == 0 {
			return
		}
		for _, q := range group {
			close(q.done)
		}
	}
}

// nextGroup takes up to maxGroup commits off the queue, in order, ending the wait of those
// whose callers have given up. When nothing is left it marks the queue as not committing.
func (b *branchWrites) nextGroup() []*queuedCommit {
	b.mu.Lock()
	defer b.mu.Unlock()
	var group []*queuedCommit
	n := 0
	for _, q := range b.queued {
		switch {
		case q.ctx.Err() != nil:
			q.err = q.ctx.Err()
			close(q.done)
		case len(group) < maxGroup:
			group = append(group, q)
		default:
			b.queued[n] = q
			n++
		}
	}
	clear(b.queued[n:])
	b.queued = b.queued[:n]
	if len(group) == 0 {
		b.committing = false
	}
	return group
}

// groupContext is a context that ends once every caller in group has given up: the group's
// fetch and push go on for as long as anyone waits for them.
func groupContext(group []*queuedCommit) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	waiting := atomic.Int64{}
	waiting.Store(int64(len(group)))
	stops := make([]func() bool, 0, len(group))
	for _, q := range group {
		stops = append(stops, context.AfterFunc(q.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		}))
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// commitGroup lands group's changes on branch (its caller holds the turn): each attempt fetches the tip once,
// applies the changes in queue order, each on the commit of the one before (a change with
// nothing to do gets the commit it found; one whose edit fails gets its own error and is left
// out), and pushes the chain at once, compare-and-swap against the tip. A lost push starts
// the whole group over on the new tip. Each caller's result or error is set in its entry.
func (p *provider) commitGroup(branch string, group []*queuedCommit) {
	ctx, cancel := groupContext(group)
	defer cancel()
	err := p.commitChain(ctx, branch, group)
	for _, q := range group {
		if q.err == nil && err != nil {
			q.res, q.err = git.CommitResult{}, err
		}
		if q.err != nil {
			q.err = fmt.Errorf("committing %s to %s: %w", q.change.Path, branch, q.err)
		}
	}
}

func (p *provider) commitChain(ctx context.Context, branch string, group []*queuedCommit) error {
	s, err := p.session()
	if err != nil {
		return err
	}
	s.shallow = true
	return p.retry.Do(ctx, func() error {
		tip, err := s.fetchBranch(ctx, branch)
		if err != nil {
			return err
		}
		head := tip
		var chain []plumbing.Hash
		for _, q := range group {
			q.res, q.err = git.CommitResult{}, nil
			if q.err = q.ctx.Err(); q.err != nil {
				continue // its caller has gone: it is not committed for nobody
			}
			tree, err := s.applyQueued(head, q.change)
			if err != nil {
				q.err = err
				continue
			}
			if tree.IsZero() {
				q.res = git.CommitResult{Commit: head.Hash.String()}
				continue
			}
			h, err := s.writeCommit(head.Hash, tree, q.change.Message, nil)
			if err != nil {
				return err
			}
			if head, err = s.repo.CommitObject(h); err != nil {
				return err
			}
			chain = append(chain, h)
			q.res = git.CommitResult{Commit: h.String(), Changed: true}
		}
		if len(chain) == 0 {
			return nil
		}
		return s.push(ctx, refUpdate{branch: branch, from: tip.Hash, to: head.Hash, chain: chain})
	})
}

// applyQueued is applyChange for one change of a group: an edit that panics fails that change
// alone, as it would have failed only its own activity before it ran in the group's goroutine.
func (s *session) applyQueued(head *object.Commit, c git.Change) (tree plumbing.Hash, err error) {
	defer func() {
		if r := recover(); r != nil {
			tree, err = plumbing.ZeroHash, fmt.Errorf("editing %s: panic: %v", c.Path, r)
		}
	}()
	return s.applyChange(head, c)
}
