package config_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

const base = `
repository: {url: https://example.com/r.git, github: o/r}
tooling:
  aws: {accountId: "123456789013", region: us-west-2}
  repositories: {svc: idp/svc}
environments:
  - name: dev
    aws: {accountId: "123456789013"}
    stateBucket: state-dev
`

// withNames is a valid config whose services and envs are renamed, validated again.
func withNames(t *testing.T, services, envs []string) error {
	t.Helper()
	c, err := config.Parse([]byte(base))
	require.NoError(t, err)
	c.Tooling.Repositories = map[string]string{}
	for _, s := range services {
		c.Tooling.Repositories[s] = "idp/" + s
	}
	proto := c.Environments[0]
	c.Environments = nil
	for _, e := range envs {
		proto.Name = e
		c.Environments = append(c.Environments, proto)
	}
	return c.Validate()
}

func TestNamesMustBeDNSLabels(t *testing.T) {
	for _, name := range []string{"Time", "time_service", "time.service", "-time", "time-", "9time", "a/b", strings.Repeat("a", 64), ""} {
		err := withNames(t, []string{name}, []string{"dev"})
		require.ErrorContains(t, err, "tooling.repositories."+name+": service name must be a DNS label", "%q", name)
		require.ErrorContains(t, err, "e.g. time-service")
		err = withNames(t, []string{"svc"}, []string{name})
		require.ErrorContains(t, err, "name: must be a DNS label", "%q", name)
	}
	require.NoError(t, withNames(t, []string{"time-service", "v2", strings.Repeat("a", 63)}, []string{"dev", "prod-eu1"}))
}

func TestNamesThatCouldCollideAreRefusedAllAtOnce(t *testing.T) {
	err := withNames(t, []string{"a", "a-b", "x", "x-y-z"}, []string{"prod", "prod-eu", "dev"})
	require.ErrorContains(t, err, `tooling.repositories.a-b: service name starts with another service's name and '-' ("a")`)
	require.ErrorContains(t, err, `tooling.repositories.x-y-z: service name starts with another service's name and '-' ("x")`)
	require.ErrorContains(t, err, `environments[1](prod-eu).name: starts with another environment's name and '-' ("prod")`)
	require.NotContains(t, err.Error(), "tooling.repositories.a:")
	require.NoError(t, withNames(t, []string{"ab", "a", "b-a"}, []string{"prod", "production"}), "a plain prefix without '-' cannot collide")
}

// labels are every DNS label over {a, b, -} up to three characters; tags every OCI tag over
// the same alphabet up to three characters. Small, but holding every way '-' can split a name.
func names(tags bool) []string {
	var out []string
	var grow func(string)
	grow = func(s string) {
		if s != "" && (tags || s[len(s)-1] != '-') {
			out = append(out, s)
		}
		if len(s) == 3 {
			return
		}
		for _, c := range "ab-" {
			if s == "" && c == '-' {
				continue
			}
			grow(s + string(c))
		}
	}
	grow("")
	return out
}

// TestValidNamesNeverShareAnID checks, over every pair of small names, that whenever idp.yaml
// validation accepts two services (or two envs), no workflow ID, lock ID, Argo CD application
// or proposal branch built from them can be the same for two different inputs; and that the
// classic pair ("a-b", "c") / ("a", "b-c") is among those it refuses.
func TestValidNamesNeverShareAnID(t *testing.T) {
	require.Equal(t, api.PromoteID("a-b", "c"), api.PromoteID("a", "b-c"), "the pair the rule exists for")
	require.Error(t, withNames(t, []string{"a", "a-b"}, []string{"dev"}))
	labels, tags := names(false), names(true)
	accepted, refused := 0, 0
	for i, x := range labels {
		for _, y := range labels[i+1:] {
			if withNames(t, []string{x, y}, []string{"dev"}) != nil {
				refused++
				continue
			}
			accepted++
			for _, a := range tags {
				for _, b := range tags {
					// a stands for a tag in promote IDs and for an env in lock IDs and
					// application names: the rule on services must hold whatever follows.
					if api.PromoteID(x, a) == api.PromoteID(y, b) || api.LockID(x, a) == api.LockID(y, b) ||
						policy.AppName(x, a) == policy.AppName(y, b) {
						t.Fatalf("services %s and %s are accepted but share an ID with %s and %s", x, y, a, b)
					}
				}
			}
		}
	}
	require.Positive(t, accepted)
	require.Positive(t, refused)
	for i, x := range labels {
		for _, y := range labels[i+1:] {
			if withNames(t, []string{"svc"}, []string{x, y}) != nil {
				continue
			}
			for _, a := range tags {
				for _, b := range tags {
					if policy.ProposalBranch("svc", x, a) == policy.ProposalBranch("svc", y, b) {
						t.Fatalf("envs %s and %s are accepted but share a branch with tags %s and %s", x, y, a, b)
					}
				}
			}
		}
	}
}
