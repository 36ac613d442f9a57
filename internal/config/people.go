package config

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/alexpermiakov/idp/internal/signature"
)

// Person is someone who may approve: the SSH public keys (authorized_keys lines) their signed
// decisions verify against. Rotating a key is editing this list; gates read it when they open.
type Person struct {
	Keys []string `yaml:"keys" json:"keys,omitempty"`
	// GitHub is the person's GitHub login: with the github provider, an approving review of a
	// promotion's pull request by this login counts as the person's approval (GitHub
	// authenticated them). One login belongs to one person.
	GitHub string `yaml:"github" json:"github,omitempty"`
}

// githubLoginRE is GitHub's rule for user names: letters, digits and single hyphens, neither
// first nor last, at most 39 characters (checked apart).
var githubLoginRE = regexp.MustCompile(`^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$`)

// GitHubLogin is one GitHub login mapped to a person.
type GitHubLogin struct {
	Login  string `json:"login"`
	Person string `json:"person"`
}

// GitHubLogins lists every person with a GitHub login, ordered by person, logins lowercased
// (GitHub compares them case-insensitively).
func (c *Config) GitHubLogins() []GitHubLogin {
	out := []GitHubLogin{}
	for _, name := range sortedKeys(c.People) {
		if l := strings.TrimSpace(c.People[name].GitHub); l != "" {
			out = append(out, GitHubLogin{Login: strings.ToLower(l), Person: name})
		}
	}
	return out
}

// GroupPrefix marks a group in an approver list: "@release-managers".
const GroupPrefix = "@"

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,62}$`)

// Approvers resolves an approver list: groups expand to their members, names are lowercased,
// each person appears once, in the order first named. Unknown names pass through unchanged
// (validation reports them).
func (c *Config) Approvers(list []string) []string {
	out := []string{}
	add := func(n string) {
		n = strings.ToLower(strings.TrimSpace(n))
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	for _, a := range list {
		if g, ok := strings.CutPrefix(strings.TrimSpace(a), GroupPrefix); ok {
			for _, m := range c.Groups[g] {
				add(m)
			}
			continue
		}
		add(a)
	}
	return out
}

// Keys returns the person's public key lines, or nil for an unknown person.
func (c *Config) Keys(person string) []string {
	return c.People[strings.ToLower(strings.TrimSpace(person))].Keys
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// validatePeople checks names and key lines; one key may belong to one person only, or one
// holder could approve under two names and fill a quorum alone.
func (c *Config) validatePeople(bad func(string, string, ...any)) {
	owner := map[string]string{}
	for _, name := range sortedKeys(c.People) {
		p := "people." + name
		if !nameRE.MatchString(name) {
			bad(p, "name must be lowercase letters, digits, '.', '_' or '-', got %q", name)
		}
		for i, line := range c.People[name].Keys {
			k, err := signature.ParseKey(line)
			if err != nil {
				bad(fmt.Sprintf("%s.keys[%d]", p, i), "%v", err)
				continue
			}
			fp := signature.Fingerprint(k)
			if o, dup := owner[fp]; dup {
				bad(fmt.Sprintf("%s.keys[%d]", p, i), "key %s also belongs to %s: one key, one person", fp, o)
				continue
			}
			owner[fp] = name
		}
	}
	c.validateLogins(bad)
	for _, g := range sortedKeys(c.Groups) {
		if !nameRE.MatchString(g) {
			bad("groups."+g, "name must be lowercase letters, digits, '.', '_' or '-', got %q", g)
		}
		for i, m := range c.Groups[g] {
			if _, ok := c.People[m]; !ok {
				bad(fmt.Sprintf("groups.%s[%d]", g, i), "%q is not under people:", m)
			}
		}
	}
}

// validateLogins checks GitHub logins: GitHub's format, and one login for one person, or one
// account's reviews would approve under two names.
func (c *Config) validateLogins(bad func(string, string, ...any)) {
	owner := map[string]string{}
	for _, name := range sortedKeys(c.People) {
		login := c.People[name].GitHub
		if login == "" {
			continue
		}
		p := "people." + name + ".github"
		if len(login) > 39 || !githubLoginRE.MatchString(login) {
			bad(p, "must be a GitHub login (letters, digits and single hyphens, not first or last, at most 39), got %q", login)
			continue
		}
		if o, dup := owner[strings.ToLower(login)]; dup {
			bad(p, "login %q also belongs to %s: one login, one person", login, o)
			continue
		}
		owner[strings.ToLower(login)] = name
	}
}

// validateApproval checks one gate's policy; prod is the last env, where "anyone may approve"
// is refused; reviews says an approving GitHub review can open this gate too.
func (c *Config) validateApproval(p string, a Approval, prod, reviews bool, bad func(string, string, ...any)) {
	if a.MinApprovals < 1 {
		bad(p+".minApprovals", "must be at least 1, got %d", a.MinApprovals)
	}
	if a.Expiry <= 0 {
		bad(p+".expiry", "must be positive")
	}
	if !a.Required {
		return
	}
	seen := map[string]bool{}
	for i, who := range a.Approvers {
		ap := fmt.Sprintf("%s.approvers[%d]", p, i)
		switch g, isGroup := strings.CutPrefix(strings.TrimSpace(who), GroupPrefix); {
		case strings.TrimSpace(who) == "":
			bad(ap, "is an empty name")
		case isGroup:
			if _, ok := c.Groups[g]; !ok {
				bad(ap, "group %q is not under groups:", g)
			}
		default:
			if _, ok := c.People[strings.ToLower(strings.TrimSpace(who))]; !ok {
				bad(ap, "%q is not under people: add them there (with their keys) or take them off the list", who)
			}
		}
		// Names are compared as people are looked up: "Bob" and "bob" are one person.
		key := strings.ToLower(strings.TrimSpace(who))
		if seen[key] {
			bad(ap, "lists %q twice: name each person or group once", who)
		}
		seen[key] = true
	}
	if len(a.Approvers) == 0 {
		if prod {
			bad(p+".approvers", "is empty, so anyone could approve in production: name the people or @groups who may")
		}
		if a.RequireSignatures {
			bad(p+".approvers", "is empty, but requireSignatures needs people with keys to check against")
		}
		return
	}
	c.validateQuorum(p, a, reviews, bad)
}

// validateQuorum refuses a gate that could never open: fewer possible approvers than
// minApprovals once four-eyes leaves out the requester (and, with signatures, people without
// a key, or without a GitHub login where a review can approve).
func (c *Config) validateQuorum(p string, a Approval, reviews bool, bad func(string, string, ...any)) {
	can := 0
	for _, who := range c.Approvers(a.Approvers) {
		if !a.RequireSignatures || len(c.Keys(who)) > 0 || reviews && c.People[who].GitHub != "" {
			can++
		}
	}
	why := ""
	switch {
	case a.RequireSignatures && reviews:
		why = " with a key or a GitHub login"
	case a.RequireSignatures:
		why = " with a key"
	}
	if a.FourEyes && can > 0 {
		can--
		why += ", less the requester (four-eyes)"
	}
	if can < a.MinApprovals {
		bad(p+".approvers", "leaves %d possible approvers%s but minApprovals is %d: the gate could never open", can, why, a.MinApprovals)
	}
}
