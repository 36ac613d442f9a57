package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/internal/redact"
	"github.com/alexpermiakov/idp/activities/git/internal/retry"
)

// status is the HTTP status of a GitHub API error, or 0 (no answer at all).
func status(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

// refused reports whether err is GitHub answering code with a message containing phrase.
// GitHub gives some refusals no status or field of their own: a disabled merge method and a
// pull request whose branch cannot be updated share their statuses with other causes (405
// for checks still running, 422 for a branch already up to date). Only for those is the
// message read, and only on a typed *github.ErrorResponse.
func refused(err error, code int, phrase string) bool {
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil || er.Response.StatusCode != code {
		return false
	}
	msg := er.Message
	for _, e := range er.Errors {
		msg += " " + e.Message
	}
	return strings.Contains(strings.ToLower(msg), phrase)
}

// scrub keeps the token out of err's message.
func (p *provider) scrub(err error) error { return redact.Error(err, "", p.token) }

// classify adds context to a GitHub API error and sorts it: credentials refused → ErrAuth,
// missing → ErrNotFound, server errors, rate limits and network trouble → retry.
func (p *provider) classify(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf(format, args...)
	var (
		rl    *github.RateLimitError
		abuse *github.AbuseRateLimitError
	)
	switch {
	case retry.Retryable(err), errors.Is(err, git.ErrAuth), errors.Is(err, git.ErrNotFound),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("%s: %w", msg, err) // already sorted, or the caller gave up
	case errors.As(err, &rl):
		err = p.waitOut(fmt.Errorf("%s: %w", msg, err), time.Until(rl.Rate.Reset.Time))
	case errors.As(err, &abuse):
		err = p.waitOut(fmt.Errorf("%s: %w", msg, err), abuse.GetRetryAfter())
	default:
		err = p.classifyStatus(msg, err)
	}
	return p.scrub(err)
}

// classifyStatus sorts an API error by its HTTP status.
func (p *provider) classifyStatus(msg string, err error) error {
	switch st := status(err); {
	case st == http.StatusForbidden && secondaryRateLimit(err):
		// go-github knows a secondary rate limit only by its documentation URL; GitHub does
		// not always send one. Retrying is what GitHub asks; refusing as bad credentials
		// would fail a prod merge for good.
		var er *github.ErrorResponse
		errors.As(err, &er)
		return p.waitOut(fmt.Errorf("%s: %w", msg, err), retryAfter(er.Response))
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		return fmt.Errorf("%s: %w: %w", msg, git.ErrAuth, err)
	case st == http.StatusNotFound:
		return fmt.Errorf("%s: %w: %w", msg, git.ErrNotFound, err)
	case st == http.StatusTooManyRequests: // a secondary rate limit, the newer way
		var er *github.ErrorResponse
		errors.As(err, &er)
		return p.waitOut(fmt.Errorf("%s: %w", msg, err), retryAfter(er.Response))
	case st >= 500, st == 0: // server trouble, or no answer at all
		return retry.Later(fmt.Errorf("%s: %w", msg, err))
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// waitOut marks a rate-limited err for a retry after wait; longer than the provider waits
// in place, the activity's next attempt waits it out instead (retry.Defer).
func (p *provider) waitOut(err error, wait time.Duration) error {
	if wait > p.rateLimitMaxWait {
		return retry.Defer(err, wait)
	}
	return retry.After(err, wait)
}

// secondaryRateLimit reports whether a 403 is GitHub's secondary rate limit: it says so in
// its message, or asks to come back later (Retry-After), which a refusal of credentials never
// does.
func secondaryRateLimit(err error) bool {
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return false
	}
	return er.Response.Header.Get("Retry-After") != "" || strings.Contains(strings.ToLower(er.Message), "secondary rate limit")
}

// retryAfter is the wait a response's Retry-After header (seconds) asks for; without one,
// the minute GitHub's documentation says to wait after a secondary rate limit.
func retryAfter(r *http.Response) time.Duration {
	if r == nil {
		return time.Minute
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(r.Header.Get("Retry-After"))); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	return time.Minute
}
