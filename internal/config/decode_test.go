package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Bad idp.yaml of each kind is refused in one line that says where and what to do.
func TestParseErrorsAreOneLineWithTheFix(t *testing.T) {
	for name, tc := range map[string]struct {
		yaml string
		want []string
	}{
		"syntax":       {"repository:\n  url: x\n url: y\n", []string{"not valid YAML: line", "fix the syntax"}},
		"unknown":      {strings.Replace(minimal, "github: o/r}", "github: o/r, brnach: main}", 1), []string{"field brnach not found in Repository", "fix the field's name or value"}},
		"bool":         {minimal + "  - name: qa\n    aws: {accountId: \"123456789013\"}\n    stateBucket: state-qa\n    promotion: {freeze: maybe}\n", []string{"`maybe` into a boolean (true or false)"}},
		"duration":     {minimal + "  - name: qa\n    aws: {accountId: \"123456789013\"}\n    stateBucket: state-qa\n    promotion: {soak: 90 seconds}\n", []string{"line ", `invalid duration "90 seconds" (use e.g. 90s`}},
		"list a value": {minimal + "  - name: qa\n    aws: {accountId: \"123456789013\"}\n    stateBucket: state-qa\n    githubRolePolicies: arn\n", []string{"a string `arn` into a list of strings"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			require.Error(t, err)
			require.NotContains(t, err.Error(), "\n")
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestPlaceholderAccountIDs(t *testing.T) {
	for _, id := range []string{"123456789012", "000000000000", "111111111111"} {
		_, err := Parse([]byte(strings.Replace(minimal, "123456789013", id, 1)))
		require.ErrorContains(t, err, `tooling.aws.accountId: "`+id+`" is a placeholder`)
	}
	// An emulator accepts any ID: the sandbox's 111111111111 behind an endpoint is fine.
	_, err := Parse([]byte(strings.Replace(minimal, `accountId: "123456789013", region: us-west-2}`, `accountId: "111111111111", region: us-west-2, endpoint: "http://127.0.0.1:4566"}`, 1)))
	require.NoError(t, err)
}

func TestDuplicateApproversIgnoreCase(t *testing.T) {
	_, err := Parse([]byte(withPeople("people: {alice: {}, bob: {}}\n",
		"    promotion:\n      approval: {required: true, approvers: [alice, bob, Bob]}\n")))
	require.ErrorContains(t, err, `environments[1](prod).promotion.approval.approvers[2]: lists "Bob" twice`)
}
