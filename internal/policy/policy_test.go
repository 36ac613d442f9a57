package policy

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/config"
)

func TestPath(t *testing.T) {
	cfg, err := config.Load(filepath.Join("..", "..", "idp.yaml"))
	require.NoError(t, err)
	names := func(envs []Env) []string {
		var out []string
		for _, e := range envs {
			out = append(out, e.Name)
		}
		return out
	}
	for _, tc := range []struct {
		tag, to string
		want    []string
		err     string
	}{
		{tag: "sha-1a2b3c4", want: []string{"dev"}},
		{tag: "sha-1a2b3c4", to: "dev", want: []string{"dev"}},
		{tag: "sha-1a2b3c4", to: "prod", err: "tag sha-1a2b3c4 cannot go to prod: staging only takes tags matching"},
		{tag: "v1.2.3", want: []string{"staging"}},
		{tag: "v1.2.3", to: "prod", want: []string{"staging", "prod"}},
		{tag: "v1.2.3", to: "dev", err: "--to dev comes before staging"},
		{tag: "v1.2.3", to: "qa", err: `unknown environment "qa"`},
		{tag: "latest", err: `tag "latest" matches no environment's entry pattern`},
		{tag: "sha-XYZ", err: "matches no environment's entry pattern"},
	} {
		t.Run(tc.tag+"→"+tc.to, func(t *testing.T) {
			envs, err := Path(cfg, Input{Service: "time-service", Tag: tc.tag, To: tc.to})
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, names(envs))
		})
	}
	envs, err := Path(cfg, Input{Service: "time-service", Tag: "v1.2.3", To: "prod"})
	require.NoError(t, err)
	require.False(t, envs[0].Propose, "staging commits directly")
	require.True(t, envs[1].Propose, "prod lands through a pull request")
	require.Equal(t, "dev", envs[0].RequirePassed, "a release enters staging only with a digest that runs Healthy in dev")
	require.NotNil(t, envs[0].PassedSnapshot)
	require.Equal(t, "dev", envs[0].PassedSnapshot.Env.Name)
	require.Equal(t, "staging", envs[1].RequirePassed)
	require.Equal(t, "time-service-prod", envs[1].App)
	_, err = Path(cfg, Input{Service: "billing", Tag: "v1.2.3"})
	require.ErrorContains(t, err, `unknown service "billing"`)
}

func TestPathCarriesSnapshots(t *testing.T) {
	cfg, err := config.Load(filepath.Join("..", "..", "idp.yaml"))
	require.NoError(t, err)
	envs, err := Path(cfg, Input{Service: "time-service", Tag: "v1.2.3", To: "prod"})
	require.NoError(t, err)
	require.NotEmpty(t, envs)
	require.Greater(t, len(cfg.Tooling.Repositories), 1, "idp.yaml lists several services")
	// A run carries its own service's repository only, not the platform's: with 500
	// services every parked run would hold 500 entries.
	only := map[string]string{"time-service": cfg.Tooling.Repositories["time-service"]}
	for _, e := range envs {
		require.Equal(t, only, e.Snapshot.Tooling.Repositories)
		require.Equal(t, e.Name, e.Snapshot.Env.Name, "each env carries its own snapshot")
		require.Equal(t, cfg.Repository, e.Snapshot.Repository)
		require.Equal(t, cfg.Tooling.AWS, e.Snapshot.Tooling.AWS)
		require.Equal(t, AppName("time-service", e.Name), e.App)
		if e.RequirePassed == "" {
			require.Nil(t, e.PassedSnapshot)
			continue
		}
		require.NotNil(t, e.PassedSnapshot, "%s requires %s", e.Name, e.RequirePassed)
		require.Equal(t, e.RequirePassed, e.PassedSnapshot.Env.Name)
		require.Equal(t, only, e.PassedSnapshot.Tooling.Repositories)
	}
}
