package config

import "time"

// Previews configures preview environments made by events rather than by hand.
type Previews struct {
	// PullRequests makes GitHub pull_request webhooks, posted to the worker's events endpoint
	// (POST /events/github, signed with the events secret), create, refresh and destroy
	// previews of Base. Empty Base turns it off.
	PullRequests PullRequestPreviews `yaml:"pullRequests" json:"pullRequests"`
}

// PullRequestPreviews: see Previews.
type PullRequestPreviews struct {
	// Base is the configured env each pull request's preview derives from (e.g. dev).
	Base string `yaml:"base" json:"base,omitempty"`
	// TTL is each preview's time to live (default 72h).
	TTL Duration `yaml:"ttl" json:"ttl,omitempty"`
}

// On reports whether pull request events make previews.
func (p PullRequestPreviews) On() bool { return p.Base != "" }

func (p Previews) validate(c *Config, bad func(string, string, ...any)) {
	pr := p.PullRequests
	if pr.Base != "" {
		if _, err := c.Env(pr.Base); err != nil {
			bad("previews.pullRequests.base", "names no env of idp.yaml (%v): name the env previews derive from, e.g. dev", err)
		}
	}
	if pr.TTL < 0 || (pr.TTL > 0 && pr.TTL.Std() < time.Minute) {
		bad("previews.pullRequests.ttl", "must be at least 1m (e.g. 72h), got %s", pr.TTL.Std())
	}
}
