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

// validateApproval checks one gate's policy; prod is the last env, where "anyone may approve"
// is refused.
func (c *Config) validateApproval(p string, a Approval, prod bool, bad func(string, string, ...any)) {
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
				bad(ap, "%q is not under people:", who)
			}
		}
		if seen[who] {
			bad(ap, "lists %q twice", who)
		}
		seen[who] = true
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
	c.validateQuorum(p, a, bad)
}

// validateQuorum refuses a gate that could never open: fewer possible approvers than
// minApprovals once four-eyes leaves out the requester (and, with signatures, people without
// a key).
func (c *Config) validateQuorum(p string, a Approval, bad func(string, string, ...any)) {
	can := 0
	for _, who := range c.Approvers(a.Approvers) {
		if !a.RequireSignatures || len(c.Keys(who)) > 0 {
			can++
		}
	}
	why := ""
	if a.RequireSignatures {
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
