package cli

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckStopsBeforeTemporalAndRefusesWhatStarterRefuses(t *testing.T) {
	// A Temporal that would be dialled for real: Check must never get there.
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	t.Setenv("TEMPORAL_ADDRESS", "192.0.2.1:7233")
	t.Setenv("IDP_CONFIG", "../../idp.yaml")
	ctx := context.Background()
	for _, args := range [][]string{
		{"promote", "--service", "time-service", "--tag", "sha-1a2b3c4"},
		{"promote", "--service", "version-service", "--tag", "v1.2.3", "--wait"},
		{"promote", "--service", "time-service", "--tag", "v1.2.3", "--to", "prod", "--as", "alice"},
		{"bootstrap", "--env", "prod", "--wait"},
		{"status", "bootstrap-dev", "-o", "json"},
		{"approve", "bootstrap-staging", "--as", "bob"},
		{"list", "--kind", "promote", "--open"},
		{"watch", "promote-time-service-v1.2.3"},
	} {
		require.NoError(t, Check(ctx, args), "%v", args)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"promote", "--service", "time-service"}, "--tag is required"},
		{[]string{"promote", "--service", "time-service", "--tag", "sha-${GITHUB_SHA::7}"}, "is not a valid image tag"},
		{[]string{"promote", "--service", "billing", "--tag", "v1.2.3"}, "billing"},
		{[]string{"promote", "--service", "time-service", "--tag", "latest"}, "latest"},
		{[]string{"bootstrap", "--env", "qa"}, "qa"},
		{[]string{"bootstrap", "--environment", "dev"}, "unknown flag"},
		{[]string{"deploy"}, "unknown command"},
		{[]string{"promote", "--service", "time-service", "--tag", "v1.2.3", "--config", "/nonexistent/idp.yaml"}, "nonexistent"},
		{nil, "no command"},
		{[]string{"promote", "--help"}, "no command"},
	} {
		err := Check(ctx, tc.args)
		require.ErrorContains(t, err, tc.want, "%v", tc.args)
		require.Equal(t, ExitBadInput, Code(err), "%v: %v", tc.args, err)
	}
}
