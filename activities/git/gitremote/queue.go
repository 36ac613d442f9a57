package gitremote

import (
	"context"
	"sync"
)

// writers holds one slot per remote branch this process writes to (url and branch): the
// worker's own writes to a branch take turns instead of racing each other. A hundred
// promotions committing to main at once otherwise fetch, lose the push to one of them, back
// off and fetch again, each round a hundred fetches for one commit; in turn, each write is
// one fetch and one push. Writers elsewhere (another worker, a person) still race, and the
// push's compare-and-swap with the retry settles that.
// A provider holds the process's registry; a test gives one its own to play a writer in
// another process.
var writers sync.Map // url + "\x00" + branch → chan struct{} (a slot)

// turn waits for the branch's slot, or for ctx to end; done frees it.
func (p *provider) turn(ctx context.Context, branch string) (done func(), err error) {
	v, _ := p.writers.LoadOrStore(p.url+"\x00"+branch, make(chan struct{}, 1))
	slot := v.(chan struct{})
	select {
	case slot <- struct{}{}:
		return func() { <-slot }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
