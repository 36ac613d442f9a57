package cli

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHistoryOptionsSayEveryProblem(t *testing.T) {
	err := historyOptions{env: "prod'", output: "yaml"}.validate()
	require.ErrorContains(t, err, "--service is required")
	require.ErrorContains(t, err, `invalid filter value "prod'"`)
	require.ErrorContains(t, err, `-o must be json or text, got "yaml"`)
	require.NoError(t, historyOptions{service: "time-service", output: "json"}.validate())
}
