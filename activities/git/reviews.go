package git

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/alexpermiakov/idp/internal/fail"
)

// Review is one review of a proposal's pull request, as the provider read it.
type Review struct {
	ID int64 `json:"id"`
	// Login is the reviewer's GitHub login, as GitHub authenticated them.
	Login string `json:"login"`
	// State is GitHub's: APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED or PENDING.
	State string `json:"state"`
	// CommitID is the head commit the reviewer saw.
	CommitID    string    `json:"commitId"`
	SubmittedAt time.Time `json:"submittedAt"`
	URL         string    `json:"url,omitempty"`
}

// Review states the watch acts on.
const (
	ReviewApproved         = "APPROVED"
	ReviewChangesRequested = "CHANGES_REQUESTED"
)

// ReviewLister is what a Provider implements when its proposals have reviews (GitHub's pull
// requests); plain Git has none, and WatchReviews then fails with ErrNoReviews.
type ReviewLister interface {
	// Reviews lists every submitted review of p's pull request, oldest first, all pages.
	Reviews(ctx context.Context, p Proposal) ([]Review, error)
}

// ErrNoReviews is the failure type of WatchReviews for a provider without reviews.
const ErrNoReviews = "NoReviews"

// DefaultReviewPoll is how often WatchReviews looks when Activities.ReviewPoll is unset.
const DefaultReviewPoll = 30 * time.Second

// WatchReviewsInput names a proposal waiting for approval and the reviews already handled.
type WatchReviewsInput struct {
	Proposal Proposal `json:"proposal"`
	// Seen are the IDs of reviews the caller already counted or set aside.
	Seen []int64 `json:"seen,omitempty"`
	// MaxWait bounds one watch: it returns with nothing new after that long, so a caller's
	// history grows by one activity per MaxWait at most. Zero looks once.
	MaxWait time.Duration `json:"maxWait"`
}

// IgnoredReview is a new review that approves nothing, with why.
type IgnoredReview struct {
	Review Review `json:"review"`
	Reason string `json:"reason"`
}

// WatchReviewsOutput is what changed on the pull request since Seen.
type WatchReviewsOutput struct {
	// Approvals are new reviews in state APPROVED of exactly Proposal.Commit.
	Approvals []Review `json:"approvals"`
	// Ignored are new approvals of another commit and new requests for changes.
	Ignored []IgnoredReview `json:"ignored"`
}

// watchProgress is the heartbeat of WatchReviews.
type watchProgress struct {
	Polls   int `json:"polls"`
	Reviews int `json:"reviews"`
}

// WatchReviews polls the reviews of a proposal's pull request every ReviewPoll and returns as
// soon as one not in Seen approves exactly the proposed commit, approves another commit, or
// requests changes; or, with nothing new, after MaxWait. It heartbeats while it waits and stops
// when it is cancelled (the gate closed). Transient GitHub errors (5xx, rate limits) are
// retried by the provider and then by the activity's retry policy.
func (a *Activities) WatchReviews(ctx context.Context, in WatchReviewsInput) (WatchReviewsOutput, error) {
	p, err := a.provider()
	if err != nil {
		return WatchReviewsOutput{}, err
	}
	rl, ok := p.(ReviewLister)
	if !ok {
		return WatchReviewsOutput{}, fail.New(ErrNoReviews, "the repository's provider has no pull request reviews (only github does): approve with `starter approve`")
	}
	if in.Proposal.Number == 0 {
		return WatchReviewsOutput{}, fail.New(ErrNoReviews, "proposal %s has no pull request whose reviews could count", in.Proposal.Head)
	}
	every := a.ReviewPoll
	if every <= 0 {
		every = DefaultReviewPoll
	}
	deadline := time.Now().Add(in.MaxWait)
	for polls := 1; ; polls++ {
		reviews, err := rl.Reviews(ctx, in.Proposal)
		if err != nil {
			return WatchReviewsOutput{}, classify(err, "reading the reviews of pull request #%d", in.Proposal.Number)
		}
		out := SortReviews(reviews, in.Proposal.Commit, in.Seen)
		wait := min(every, time.Until(deadline))
		if len(out.Approvals)+len(out.Ignored) > 0 || wait <= 0 {
			return out, nil
		}
		if err := pause(ctx, wait, watchProgress{Polls: polls, Reviews: len(reviews)}); err != nil {
			return WatchReviewsOutput{}, err
		}
	}
}

// SortReviews picks, from reviews, those not in seen that matter to a gate waiting on commit:
// approvals of commit, and, set aside with a reason, approvals of another commit and requests
// for changes. Comments, dismissed and pending reviews matter to nobody.
func SortReviews(reviews []Review, commit string, seen []int64) WatchReviewsOutput {
	out := WatchReviewsOutput{Approvals: []Review{}, Ignored: []IgnoredReview{}}
	for _, r := range reviews {
		if slices.Contains(seen, r.ID) {
			continue
		}
		switch {
		case r.State == ReviewApproved && r.CommitID == commit:
			out.Approvals = append(out.Approvals, r)
		case r.State == ReviewApproved:
			out.Ignored = append(out.Ignored, IgnoredReview{Review: r, Reason: fmt.Sprintf(
				"approves commit %s, not %s that was proposed: an approval binds to the exact commit; approve the pull request again", short(r.CommitID), short(commit))})
		case r.State == ReviewChangesRequested:
			out.Ignored = append(out.Ignored, IgnoredReview{Review: r, Reason: "changes requested on GitHub do not reject the promotion (a rejection is an explicit decision): " +
				"to stop it, `starter reject` with a reason; the pull request still needs enough approvals to merge"})
		}
	}
	return out
}

// pause waits d, heartbeating every few seconds so a lost worker is noticed and a cancel
// (delivered on heartbeat) arrives, whatever the poll interval.
func pause(ctx context.Context, d time.Duration, progress watchProgress) error {
	const beat = 5 * time.Second
	heartbeat := func() {
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, progress)
		}
	}
	for d > 0 {
		heartbeat()
		step := min(d, beat)
		t := time.NewTimer(step)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		d -= step
	}
	heartbeat()
	return nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
