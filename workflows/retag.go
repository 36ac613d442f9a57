package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/internal/policy"
)

// recheckBeforeMerge resolves the tag once more after the approval wait and right before the
// approved proposal is merged: a tag pushed over while people were deciding (minutes to hours)
// stops the run before anything lands, not only at the next env's door. Runs recorded before
// this check replay without it.
func (p *promotion) recheckBeforeMerge(ctx workflow.Context, e policy.Env) error {
	if p.since(ctx, "recheck-digest-before-merge", 1) < 1 {
		return nil
	}
	return p.recheckDigest(ctx, e)
}
