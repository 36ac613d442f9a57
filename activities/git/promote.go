package git

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alexpermiakov/idp/activities/git/internal/retry"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/manifest"
	"github.com/alexpermiakov/idp/internal/policy"
)

// Activities write promotions into the platform repository through Provider. The worker
// builds the provider once, with its credentials, and injects it.
type Activities struct {
	// Provider writes to the platform repository.
	Provider Provider
	// Branch is the platform branch (idp.yaml's repository.branch) that commits go to and
	// proposals are based on.
	Branch string
	// ReviewPoll is how often WatchReviews reads a pull request's reviews (idp.yaml's
	// repository.reviewPollInterval); zero means DefaultReviewPoll.
	ReviewPoll time.Duration
}

// WriteImageInput asks to pin a service's image in one env.
type WriteImageInput struct {
	Env     string `json:"env"`
	Service string `json:"service"`
	Image   string `json:"image"`
	Message string `json:"message"`
	// Propose writes to branch Head and opens a pull request (GitHub) instead of committing to
	// the platform branch; MergeProposal lands it after approval.
	Propose bool   `json:"propose,omitempty"`
	Head    string `json:"head,omitempty"`
	Title   string `json:"title,omitempty"`
	Body    string `json:"body,omitempty"`
	// Expect, when set, makes the write a compare-and-swap: it happens only while the manifest
	// still holds Expect (a rollback restores the previous image only over our own). A file
	// already holding Image is left as it is; anything else fails as fail.Replaced.
	Expect string `json:"expect,omitempty"`
}

// WriteImageOutput says what was written.
type WriteImageOutput struct {
	Commit   string    `json:"commit"`
	Changed  bool      `json:"changed"`
	Previous string    `json:"previous"`
	Proposal *Proposal `json:"proposal,omitempty"`
	// Written is when the commit was made, for "reconciled after our commit".
	Written time.Time `json:"written"`
}

// WriteImage sets app.image in the env's manifest for the service, changing nothing else in
// the file. Concurrent writers never lose each other's changes: the provider re-applies the
// edit on a newer head when its push is rejected.
func (a *Activities) WriteImage(ctx context.Context, in WriteImageInput) (WriteImageOutput, error) {
	p, err := a.provider()
	if err != nil {
		return WriteImageOutput{}, err
	}
	defer keepAlive(ctx, "writing "+policy.ManifestPath(in.Env, in.Service))()
	var previous string
	change := Change{Path: policy.ManifestPath(in.Env, in.Service), Message: in.Message, Edit: func(old []byte) ([]byte, error) {
		img, err := manifest.Image(old)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errBadManifest, err)
		}
		if in.Expect != "" && img != in.Expect && img != in.Image {
			return nil, fmt.Errorf("%w: %s holds %s, not %s", errReplaced, policy.ManifestPath(in.Env, in.Service), img, in.Expect)
		}
		previous = img
		out, err := manifest.SetImage(old, in.Image)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errBadManifest, err)
		}
		return out, nil
	}}
	out := WriteImageOutput{Written: time.Now().UTC()}
	if in.Propose {
		prop, err := p.Propose(ctx, a.Branch, in.Head, change, in.Title, in.Body)
		if err != nil {
			return out, classify(err, "proposing %s", change.Path)
		}
		out.Commit, out.Changed, out.Previous, out.Proposal = prop.Commit, true, previous, &prop
		return out, nil
	}
	res, err := p.Commit(ctx, a.Branch, change)
	if err != nil {
		return out, classify(err, "committing %s", change.Path)
	}
	out.Commit, out.Changed, out.Previous = res.Commit, res.Changed, previous
	return out, nil
}

// MergeInput names a proposal to land, with the body to record (the approvals) first.
type MergeInput struct {
	Proposal Proposal `json:"proposal"`
	Body     string   `json:"body,omitempty"`
}

// MergeProposal records the final body on the pull request and merges it.
func (a *Activities) MergeProposal(ctx context.Context, in MergeInput) (WriteImageOutput, error) {
	p, err := a.provider()
	if err != nil {
		return WriteImageOutput{}, err
	}
	defer keepAlive(ctx, "merging "+in.Proposal.Head)()
	if in.Body != "" {
		if err := p.UpdateProposal(ctx, in.Proposal, in.Body); err != nil {
			return WriteImageOutput{}, classify(err, "updating proposal %s", in.Proposal.Head)
		}
	}
	res, err := p.Merge(ctx, in.Proposal)
	if err != nil {
		return WriteImageOutput{}, classify(err, "merging %s", in.Proposal.Head)
	}
	return WriteImageOutput{Commit: res.Commit, Changed: true, Written: time.Now().UTC()}, nil
}

// provider is a.Provider; a worker that forgot to wire one gets a configuration error rather
// than a panic that Temporal would retry forever.
func (a *Activities) provider() (Provider, error) {
	if a.Provider == nil {
		return nil, fail.New(fail.Config, "no git provider configured for repository in idp.yaml")
	}
	return a.Provider, nil
}

// errBadManifest marks a manifest the editor cannot change: a person must fix the file.
var errBadManifest = errors.New("manifest")

// errReplaced marks a compare-and-swap write whose expected image is no longer there.
var errReplaced = errors.New("a later change replaced the image")

// classify makes what only a person can fix non-retryable.
func classify(err error, format string, args ...any) error {
	if wait, ok := retry.DeferredFor(err); ok {
		return rateLimited(err, wait, format, args...)
	}
	switch {
	case errors.Is(err, errUnavailable): // before ErrAuth: missing credentials are a setup problem
		return fail.Wrap(fail.Config, err, format, args...)
	case errors.Is(err, ErrAuth):
		return fail.Wrap(fail.AccessDenied, err, format, args...)
	case errors.Is(err, ErrNotFound):
		return fail.Wrap(fail.NotFound, err, format, args...)
	case errors.Is(err, errBadManifest):
		return fail.Wrap(fail.Config, err, format, args...)
	case errors.Is(err, errReplaced):
		return fail.Wrap(fail.Replaced, err, format, args...)
	case errors.Is(err, ErrNotMergeable):
		return fail.Wrap(fail.Conflict, err, format, args...)
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
