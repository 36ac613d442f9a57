package config

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// dnsLabelRE is an RFC 1123 DNS label: lowercase letters, digits and '-', starting with a
// letter, ending with a letter or digit, at most 63 characters. Environment and service names
// must be one: they become Kubernetes and Argo CD names, branch names, and parts of workflow
// IDs, so they must not carry '/', '.', spaces or anything else with a meaning there.
var dnsLabelRE = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Why names must not be dash-prefixes of each other:
//
// idp joins names with '-' into workflow IDs (promote-<service>-<tag>, lock-<service>-<env>),
// Argo CD Application names (<service>-<env>) and proposal branches
// (idp/<service>-<env>-<tag>). Names are DNS labels and may hold '-' themselves, so with
// services "a" and "a-b", promote-a-b-c is both ("a-b", "c") and ("a", "b-c"): two different
// promotions would share one workflow ID, and one service's lock could serialize (or be
// released by) another's. The simplest rule that rules this out is that no service name is
// another service name followed by '-'. Then at most one service, followed by '-', starts a
// joined string: if s1 and a longer s2 both did, s2 would start with s1+"-". So the service
// is unique, and what follows it (the env or the tag) is the rest. The same rule on env names
// makes <env>-<tag> in a proposal branch split one way only. Tags carry no such rule: they are
// always last, so they are simply the remainder.

// validateNames checks that service and env names are DNS labels and that no name is
// another's followed by '-', within services and within envs (see above).
func (c *Config) validateNames(bad func(string, string, ...any)) {
	services := make([]string, 0, len(c.Tooling.Repositories))
	for svc := range c.Tooling.Repositories {
		services = append(services, svc)
	}
	sort.Strings(services)
	for _, svc := range services {
		p := "tooling.repositories." + svc
		if !dnsLabelRE.MatchString(svc) {
			bad(p, "service name must be a DNS label (lowercase letters, digits and '-', starting with a letter, ending with a letter or digit, at most 63 characters, e.g. time-service), got %q", svc)
		}
		if other := dashPrefix(svc, services); other != "" {
			bad(p, "service name starts with another service's name and '-' (%q): IDs such as promote-%s-<tag> would also read as a promotion of %q; rename one", other, svc, other)
		}
	}
	envs := make([]string, 0, len(c.Environments))
	for _, e := range c.Environments {
		envs = append(envs, e.Name)
	}
	for i, e := range c.Environments {
		p := envPath(i, e.Name) + ".name"
		if !dnsLabelRE.MatchString(e.Name) {
			bad(p, "must be a DNS label (lowercase letters, digits and '-', starting with a letter, ending with a letter or digit, at most 63 characters, e.g. staging), got %q", e.Name)
		}
		if other := dashPrefix(e.Name, envs); other != "" {
			bad(p, "starts with another environment's name and '-' (%q): branches such as idp/<service>-%s-<tag> would also read as a change to %q; rename one", other, e.Name, other)
		}
	}
}

// dashPrefix returns a name in names that, followed by '-', starts name, or "".
func dashPrefix(name string, names []string) string {
	for _, n := range names {
		if n != "" && strings.HasPrefix(name, n+"-") {
			return n
		}
	}
	return ""
}

// envPath is the field path of the i-th environment, with its name when it has one.
func envPath(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("environments[%d]", i)
	}
	return fmt.Sprintf("environments[%d](%s)", i, name)
}
