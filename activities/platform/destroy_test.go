package platform

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

func TestSharedAccountNamesTheOtherEnvsOfTheAccount(t *testing.T) {
	env := func(name, account, role string) config.Environment {
		return config.Environment{Name: name, AWS: config.AWS{AccountID: account}, GitHubRole: role}
	}
	a := &Activities{Config: &config.Config{Environments: []config.Environment{
		env("dev", "111111111111", "GitHubActionsRole"), env("qa", "111111111111", "GitHubActionsRole"),
		env("perf", "111111111111", "PerfRole"), env("prod", "222222222222", "GitHubActionsRole"),
	}}}
	out, err := a.SharedAccount(context.Background(), SharedAccountInput{Env: "dev"})
	require.NoError(t, err)
	require.Equal(t, SharedAccountOutput{Envs: []string{"qa", "perf"}, Role: []string{"qa"}}, out)

	out, err = a.SharedAccount(context.Background(), SharedAccountInput{Env: "prod"})
	require.NoError(t, err)
	require.Equal(t, SharedAccountOutput{Envs: []string{}, Role: []string{}}, out, "alone in its account")

	_, err = a.SharedAccount(context.Background(), SharedAccountInput{Env: "nope"})
	require.True(t, fail.Is(err, fail.Config), "%v", err)
}

func TestOpenRunsRefusesAQueryInjection(t *testing.T) {
	_, err := (&Signaller{}).OpenRuns(context.Background(), OpenRunsInput{Env: "dev' OR 1=1"})
	require.True(t, fail.Is(err, fail.Config), "%v", err)
}
