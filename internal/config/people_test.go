package config

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	aliceKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINY3FRXjWwarRacQ50rQ6I8MEptTu0NO2mvAm5CMOj6o alice"
	bobKey   = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEP0jwQraHyr+iNmeIZQSQoIOJPYUm6wVKusj4HxUlc7 bob"
)

// withPeople is minimal plus a prod env whose policies are the given YAML lines.
func withPeople(people, prodPolicy string) string {
	return minimal + `  - name: prod
    aws: {accountId: "123456789013"}
    stateBucket: state-prod
` + prodPolicy + people
}

func TestApproversResolveGroups(t *testing.T) {
	c, err := Parse([]byte(withPeople(`
people:
  alice: {keys: ["`+aliceKey+`"]}
  bob: {keys: ["`+bobKey+`"]}
  carol: {}
groups:
  release-managers: [alice, bob]
`, `    promotion:
      approval: {required: true, fourEyes: true, requireSignatures: true, approvers: ["@release-managers", carol, Alice]}
`)))
	require.NoError(t, err)
	prod, err := c.Env("prod")
	require.NoError(t, err)
	require.Equal(t, []string{"alice", "bob", "carol"}, c.Approvers(prod.Promotion.Approval.Approvers))
	require.Equal(t, []string{aliceKey}, c.Keys("Alice"))
	require.Nil(t, c.Keys("mallory"))
}

func TestPeopleValidation(t *testing.T) {
	for name, tc := range map[string]struct {
		people, policy string
		want           []string
	}{
		"unknown person and group": {
			people: "people: {alice: {keys: [\"" + aliceKey + "\"]}}\ngroups: {ops: [alice, zed]}\n",
			policy: "    promotion:\n      approval: {required: true, approvers: [alice, mallory, \"@admins\"]}\n",
			want: []string{`environments[1](prod).promotion.approval.approvers[1]: "mallory" is not under people:`,
				`environments[1](prod).promotion.approval.approvers[2]: group "admins" is not under groups:`,
				`groups.ops[1]: "zed" is not under people:`},
		},
		"bad key lines": {
			people: "people:\n  alice: {keys: [\"ssh-ed25519 AAAAnope\"]}\n  bob: {keys: [\"" + bobKey + "\", \"" + bobKey + "\"]}\n  Carol: {}\n",
			want: []string{"people.alice.keys[0]: not an SSH public key line",
				"people.bob.keys[1]: key SHA256:", "also belongs to bob: one key, one person",
				`people.Carol: name must be lowercase`},
		},
		"anyone may approve in prod": {
			policy: "    bootstrap:\n      planApproval: {required: true}\n",
			want:   []string{"environments[1](prod).bootstrap.planApproval.approvers: is empty, so anyone could approve in production"},
		},
		"gate that never opens": {
			people: "people: {alice: {keys: [\"" + aliceKey + "\"]}, bob: {}}\n",
			policy: "    promotion:\n      approval: {required: true, fourEyes: true, requireSignatures: true, approvers: [alice, bob]}\n",
			want:   []string{"environments[1](prod).promotion.approval.approvers: leaves 0 possible approvers with a key, less the requester (four-eyes) but minApprovals is 1: the gate could never open"},
		},
		"signatures without approvers": {
			policy: "    promotion:\n      approval: {required: true, requireSignatures: true}\n",
			want: []string{"approvers: is empty, so anyone could approve in production",
				"approvers: is empty, but requireSignatures needs people with keys"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(withPeople(tc.people, tc.policy)))
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

func TestGitHubLogins(t *testing.T) {
	_, err := Parse([]byte(withPeople(`
people:
  alice: {keys: ["`+aliceKey+`"], github: Alice-GH}
  bob: {github: bob-gh}
  carol: {keys: ["`+bobKey+`"]}
`, `    promotion:
      approval: {required: true, fourEyes: true, requireSignatures: true, approvers: [alice, bob]}
`)))
	require.Error(t, err, "with the git provider a login opens no gate: bob cannot approve, so the gate never opens")
	require.ErrorContains(t, err, "leaves 0 possible approvers with a key, less the requester")

	c, err := Parse([]byte(strings.Replace(withPeople(`
people:
  alice: {keys: ["`+aliceKey+`"], github: Alice-GH}
  bob: {github: bob-gh}
  carol: {keys: ["`+bobKey+`"]}
`, `    promotion:
      approval: {required: true, fourEyes: true, requireSignatures: true, approvers: [alice, bob]}
`), "github: o/r}", "github: o/r, provider: github, reviewPollInterval: 5s}", 1)))
	require.NoError(t, err, "with the github provider bob's review can approve")
	require.Equal(t, []GitHubLogin{{Login: "alice-gh", Person: "alice"}, {Login: "bob-gh", Person: "bob"}}, c.GitHubLogins())
	require.Equal(t, 5*time.Second, c.Repository.ReviewPollInterval.Std())
}

func TestGitHubLoginValidation(t *testing.T) {
	_, err := Parse([]byte(withPeople(`
people:
  alice: {github: "-alice"}
  bob: {github: bob--gh}
  carol: {github: "dependabot[bot]"}
  dave: {github: `+strings.Repeat("d", 40)+`}
  erin: {github: Shared}
  frank: {github: shared}
`, "")))
	require.Error(t, err)
	for _, w := range []string{
		`people.alice.github: must be a GitHub login (letters, digits and single hyphens, not first or last, at most 39), got "-alice"`,
		`people.bob.github: must be a GitHub login`,
		`people.carol.github: must be a GitHub login`,
		`people.dave.github: must be a GitHub login`,
		`people.frank.github: login "shared" also belongs to erin: one login, one person`,
	} {
		require.ErrorContains(t, err, w)
	}
	_, err = Parse([]byte(strings.Replace(minimal, "github: o/r}", "github: o/r, reviewPollInterval: 100ms}", 1)))
	require.ErrorContains(t, err, "repository.reviewPollInterval: must be at least 1s, got 100ms")
}
