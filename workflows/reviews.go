package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/workflows/api"
)

// reviewWatchFor bounds one WatchReviews activity: while a gate waits, its history grows by one
// activity per new review and one per this long, whatever the poll interval.
const reviewWatchFor = 30 * time.Minute

// watchReviews counts approving reviews of prop's pull request as approvals while the gate
// waits on it; stop ends the watch and must be called when the gate closes. A proposal without
// a pull request (plain Git) is not watched, nor is a run recorded before reviews counted.
//
// A review goes through the same check as `starter approve` (allow-list, four-eyes, one person
// once, quorum) except the signature: GitHub authenticated the reviewer, so it stands for one
// where signatures are required.
func (g *gate) watchReviews(ctx workflow.Context, prop *git.Proposal) (stop func()) {
	if prop == nil || prop.Number == 0 || prop.Head == "" {
		return func() {}
	}
	if g.run.since(ctx, "github-reviews", 1) < 1 {
		return func() {}
	}
	wctx, cancel := workflow.WithCancel(ctx)
	p := *prop
	workflow.Go(wctx, func(ctx workflow.Context) { g.followReviews(ctx, p) })
	return cancel
}

// followReviews waits for the gate to open, then feeds every new review to it until the
// watch is cancelled or cannot go on.
func (g *gate) followReviews(ctx workflow.Context, prop git.Proposal) {
	var ga *git.Activities
	if err := workflow.Await(ctx, func() bool { return g.req != nil }); err != nil {
		return
	}
	opened := workflow.Now(ctx)
	if pa := g.run.status.PendingApproval; pa != nil {
		pa.Reviews = prop.URL
		g.run.publish(ctx)
	}
	opts := activityOptions(fmt.Sprintf("watch the reviews of pull request #%d", prop.Number), reviewWatchFor+time.Minute)
	opts.HeartbeatTimeout = time.Minute
	opts.RetryPolicy.MaximumAttempts = 0 // GitHub down for a while: keep trying while the gate waits
	actx := workflow.WithActivityOptions(ctx, opts)
	seen := []int64{}
	for {
		var out git.WatchReviewsOutput
		err := workflow.ExecuteActivity(actx, ga.WatchReviews, git.WatchReviewsInput{Proposal: prop, Seen: seen, MaxWait: reviewWatchFor}).Get(ctx, &out)
		switch {
		case ctx.Err() != nil || g.req == nil:
			return // the gate closed
		case err != nil:
			g.run.step(ctx, "reviews of pull request #%d do not count: %s", prop.Number, fail.Message(err))
			return
		}
		for _, r := range out.Approvals {
			seen = append(seen, r.ID)
			g.countReview(ctx, r, opened)
		}
		for _, r := range out.Ignored {
			seen = append(seen, r.Review.ID)
			g.ignoreReview(ctx, r.Review, r.Reason)
		}
		g.run.publish(ctx)
	}
}

// countReview records an approving review of the proposed commit as its person's approval,
// or sets it aside with the reason the gate refused it.
func (g *gate) countReview(ctx workflow.Context, r git.Review, opened time.Time) {
	who := g.personOf(r.Login)
	if who == "" {
		g.ignoreReview(ctx, r, fmt.Sprintf("GitHub login %s is not mapped to a person in idp.yaml (people.NAME.github), so the review approves nothing", r.Login))
		return
	}
	// Like a signature's time check: a review counts for the gate it was given in, not for a
	// later run that proposes the very same commit again.
	if r.SubmittedAt.Before(opened.Add(-maxClockSkew)) {
		g.ignoreReview(ctx, r, fmt.Sprintf("submitted at %s, before this approval was requested at %s: approve the pull request again",
			r.SubmittedAt.UTC().Format(time.RFC3339), opened.UTC().Format(time.RFC3339)))
		return
	}
	comment := fmt.Sprintf("approving review of %s on GitHub: %s", short(r.CommitID), r.URL)
	d := decision{Who: who, Subject: g.req.Subject, Decision: "approve", Comment: comment, Authenticated: "github:" + normalize(r.Login)}
	key, err := g.check(workflow.Now(ctx), d)
	if err != nil {
		g.ignoreReview(ctx, r, err.Error())
		return
	}
	g.approvers = append(g.approvers, normalize(who))
	g.record(ctx, who, "approve", comment, key)
	g.run.status.Approvals[len(g.run.status.Approvals)-1].Source = api.SourceGitHubReview
}

// ignoreReview shows a review that approves nothing in status, with why.
func (g *gate) ignoreReview(ctx workflow.Context, r git.Review, reason string) {
	who := "github:" + r.Login
	if p := g.personOf(r.Login); p != "" {
		who = p + " (" + who + ")"
	}
	g.ignore(ctx, who, api.SourceGitHubReview, errors.New(reason))
}

// personOf is the person a GitHub login belongs to when the gate opened, or "".
func (g *gate) personOf(login string) string {
	if g.keys == nil {
		return ""
	}
	for _, l := range g.keys.GitHub {
		if normalize(l.Login) == normalize(login) {
			return l.Person
		}
	}
	return ""
}
