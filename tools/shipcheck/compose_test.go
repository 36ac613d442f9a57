package shipcheck

import (
	"context"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	"mvdan.cc/sh/v3/syntax"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/workflows/api"
)

// hostEnv is the shell `docker compose` runs from in these tests: no AWS or Temporal settings.
var hostEnv = []string{"HOME=/home/someone", "USER=someone"}

func loadCompose(t *testing.T, env []string, envFiles ...string) *types.Project {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	var files []string
	for _, f := range envFiles {
		files = append(files, filepath.Join(root, f))
	}
	p, err := LoadCompose(context.Background(), filepath.Join(root, "docker-compose.yaml"), root, env, files...)
	require.NoError(t, err)
	return p
}

var (
	temporalServices = []string{"postgresql", "temporal", "temporal-schema", "temporal-setup", "temporal-ui", "worker"}
	kumoServices     = []string{"kumo-dev", "kumo-prod", "kumo-staging", "kumo-tooling"}
)

func names(s types.Services) []string {
	var out []string
	for n := range s {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func TestComposeAgainstRealAWS(t *testing.T) {
	p := loadCompose(t, hostEnv)
	require.Empty(t, CheckCompose(p))
	require.Equal(t, "idp", p.Name)
	require.Equal(t, temporalServices, names(p.Services))
	require.Equal(t, kumoServices, names(p.DisabledServices), "the emulators are off without their profile")

	deps := func(svc string) map[string]string {
		out := map[string]string{}
		for dep, d := range p.Services[svc].DependsOn {
			if d.Required {
				out[dep] = d.Condition
			}
		}
		return out
	}
	require.Equal(t, map[string]string{"postgresql": "service_healthy"}, deps("temporal-schema"))
	require.Equal(t, map[string]string{"temporal-schema": "service_completed_successfully"}, deps("temporal"))
	require.Equal(t, map[string]string{"temporal": "service_healthy"}, deps("temporal-setup"))
	require.Equal(t, map[string]string{"temporal": "service_healthy"}, deps("temporal-ui"))
	require.Equal(t, map[string]string{"temporal": "service_healthy", "temporal-setup": "service_completed_successfully"}, deps("worker"))
	for _, k := range kumoServices {
		d := p.Services["worker"].DependsOn[k]
		require.Equal(t, types.ServiceDependency{Condition: "service_healthy", Required: false}, types.ServiceDependency{Condition: d.Condition, Required: d.Required}, k)
	}

	// Health checks: what each waits on is real for that image.
	require.Equal(t, types.HealthCheckTest{"CMD-SHELL", "pg_isready -U temporal -d postgres"}, p.Services["postgresql"].HealthCheck.Test)
	require.Equal(t, types.HealthCheckTest{"CMD", "nc", "-z", "localhost", "7233"}, p.Services["temporal"].HealthCheck.Test)
	require.Equal(t, types.HealthCheckTest{"CMD", "/usr/local/bin/worker", "healthcheck"}, p.Services["worker"].HealthCheck.Test,
		"the same probe as the image's HEALTHCHECK")

	// State lives in named volumes declared at the top level.
	require.Equal(t, []string{"idp-work", "kumo-dev-data", "kumo-prod-data", "kumo-staging-data", "kumo-tooling-data", "postgresql-data"}, slices.Sorted(maps.Keys(p.Volumes)))
	require.Contains(t, mounts(p.Services["postgresql"]), "volume postgresql-data:/var/lib/postgresql/data")
	require.Contains(t, mounts(p.Services["worker"]), "volume idp-work:/home/idp/.cache")

	// Ports: Temporal's frontend and the Web UI, on loopback.
	require.Equal(t, []string{"127.0.0.1:7233->7233"}, ports(p.Services["temporal"]))
	require.Equal(t, []string{"127.0.0.1:8080->8080"}, ports(p.Services["temporal-ui"]))
	require.Empty(t, ports(p.Services["worker"]))

	// The worker reaches Temporal by service name, on the port the server listens on.
	w := p.Services["worker"]
	require.Equal(t, "temporal:7233", env(w, "TEMPORAL_ADDRESS"))
	require.Equal(t, "temporal:7233", env(p.Services["temporal-ui"], "TEMPORAL_ADDRESS"))
	require.Equal(t, "temporal:7233", env(p.Services["temporal-setup"], "TEMPORAL_ADDRESS"))
	require.Equal(t, "default", env(w, "TEMPORAL_NAMESPACE"))
	require.Equal(t, env(w, "TEMPORAL_NAMESPACE"), env(p.Services["temporal-setup"], "TEMPORAL_NAMESPACE"))
	require.Equal(t, ":8081", env(w, "IDP_HEALTH_ADDR"))
	// Credentials pass through from the shell and are absent when the shell has none.
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "IDP_GIT_TOKEN", "GITHUB_TOKEN", "IDP_EVENTS_ADDR", "IDP_EVENTS_SECRET"} {
		v, ok := w.Environment[k]
		require.True(t, ok, k)
		require.Nil(t, v, "%s must come from the shell, never from the file", k)
	}
	withCreds := loadCompose(t, append(slices.Clone(hostEnv), "AWS_ACCESS_KEY_ID=AKIAEXAMPLE", "GITHUB_TOKEN=ghp_x", "IDP_EVENTS_SECRET=0123456789abcdef"))
	require.Equal(t, "AKIAEXAMPLE", env(withCreds.Services["worker"], "AWS_ACCESS_KEY_ID"))
	require.Equal(t, "ghp_x", env(withCreds.Services["worker"], "GITHUB_TOKEN"))
	require.Equal(t, "0123456789abcdef", env(withCreds.Services["worker"], "IDP_EVENTS_SECRET"), "the events secret comes from the shell, never the file")

	// The worker is this repository's Dockerfile, stage worker; its config is ./idp.yaml.
	require.Equal(t, "worker", w.Build.Target)
	require.Equal(t, mustAbs(t, repoRoot), w.Build.Context)
	require.Equal(t, "/etc/idp/idp.yaml", env(w, "IDP_CONFIG"))
	cfg, err := config.Load(hostPath(t, w, env(w, "IDP_CONFIG")))
	require.NoError(t, err)
	require.Equal(t, "alexpermiakov/idp", cfg.Repository.GitHub)

	// The search attributes registered at start are exactly the ones idp sets.
	require.Equal(t, api.SearchAttributeNames, strings.Fields(env(p.Services["temporal-setup"], "IDP_SEARCH_ATTRIBUTES")))
	require.Equal(t, api.BoolSearchAttributeNames, strings.Fields(env(p.Services["temporal-setup"], "IDP_BOOL_SEARCH_ATTRIBUTES")))
}

func TestComposeWithTheEmulatorProfile(t *testing.T) {
	p := loadCompose(t, hostEnv, "deploy/compose/emulator.env")
	require.Empty(t, CheckCompose(p))
	require.Equal(t, append(slices.Clone(kumoServices), temporalServices...), names(p.Services))
	require.Empty(t, p.DisabledServices)

	w := p.Services["worker"]
	require.Equal(t, "idp-emulator", env(w, "AWS_ACCESS_KEY_ID"))
	require.Equal(t, "idp-emulator", env(w, "AWS_SECRET_ACCESS_KEY"))
	require.Equal(t, "/etc/idp/idp.emulator.yaml", env(w, "IDP_CONFIG"))
	cfg, err := config.Load(hostPath(t, w, env(w, "IDP_CONFIG")))
	require.NoError(t, err, "the emulator's idp.yaml must load as the worker loads it")

	// Every account of that idp.yaml is its own kumo, which the worker waits for.
	endpoints := map[string]string{"tooling": cfg.Tooling.AWS.Endpoint}
	for _, e := range cfg.Environments {
		endpoints[e.Name] = e.AWS.Endpoint
	}
	require.Len(t, endpoints, 4)
	published := map[string]bool{}
	for account, endpoint := range endpoints {
		u, err := url.Parse(endpoint)
		require.NoError(t, err)
		svc := "kumo-" + account
		require.Equal(t, svc+":4566", u.Host, account)
		k, ok := p.Services[svc]
		require.True(t, ok, svc)
		require.Equal(t, "emulator", k.Build.Target)
		require.Equal(t, "service_healthy", w.DependsOn[svc].Condition)
		require.Equal(t, types.HealthCheckTest{"CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/4566"}, k.HealthCheck.Test)
		require.Equal(t, []string{"volume " + svc + "-data:/data"}, mounts(k))
		require.Equal(t, "/data", env(k, "KUMO_DATA_DIR"))
		require.Len(t, k.Ports, 1)
		require.False(t, published[k.Ports[0].Published], "%s: host port %s used twice", svc, k.Ports[0].Published)
		published[k.Ports[0].Published] = true
	}
}

func TestComposeSupportFiles(t *testing.T) {
	p := loadCompose(t, hostEnv)
	// The one-shot jobs run scripts from deploy/compose: POSIX sh (the admin-tools image has no
	// bash) that parses, stops on the first error and is the file the entrypoint names.
	for svc, script := range map[string]string{"temporal-schema": "temporal-schema.sh", "temporal-setup": "temporal-setup.sh"} {
		s := p.Services[svc]
		require.Equal(t, types.ShellCommand{"/bin/sh", "/idp/" + script}, s.Entrypoint, svc)
		path := hostPath(t, s, "/idp/"+script)
		require.Equal(t, script, filepath.Base(path))
		src, err := os.ReadFile(path)
		require.NoError(t, err)
		_, err = syntax.NewParser(syntax.Variant(syntax.LangPOSIX)).Parse(strings.NewReader(string(src)), script)
		require.NoError(t, err, script)
		require.Contains(t, string(src), "set -eu", script)
	}
	setup, err := os.ReadFile(filepath.Join(repoRoot, "deploy/compose/temporal-setup.sh"))
	require.NoError(t, err)
	require.Contains(t, string(setup), `for name in $IDP_SEARCH_ATTRIBUTES`)
	require.Contains(t, string(setup), `--type Keyword`)
	require.Contains(t, string(setup), `for name in ${IDP_BOOL_SEARCH_ATTRIBUTES:-}`)
	require.Contains(t, string(setup), `--type Bool`)

	// The server's dynamic config file is where DYNAMIC_CONFIG_FILE_PATH (relative to
	// /etc/temporal) says, and parses.
	temporal := p.Services["temporal"]
	dc := hostPath(t, temporal, filepath.Join("/etc/temporal", env(temporal, "DYNAMIC_CONFIG_FILE_PATH")))
	raw, err := os.ReadFile(dc)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	require.Contains(t, doc, "limit.maxIDLength")

	// The schema job and the server agree on the database and its credentials.
	schema := p.Services["temporal-schema"]
	require.Equal(t, env(temporal, "POSTGRES_SEEDS"), env(schema, "SQL_HOST"))
	require.Equal(t, env(temporal, "POSTGRES_USER"), env(schema, "SQL_USER"))
	require.Equal(t, env(temporal, "POSTGRES_PWD"), env(schema, "SQL_PASSWORD"))
	require.Equal(t, env(p.Services["postgresql"], "POSTGRES_PASSWORD"), env(schema, "SQL_PASSWORD"))
	require.Equal(t, env(temporal, "DB"), env(schema, "SQL_PLUGIN"))
	require.Equal(t, schema.Image, p.Services["temporal-setup"].Image)
}

// TestEveryComposeRuleCatchesABadFile shows each rule failing on a compose file that breaks it.
func TestEveryComposeRuleCatchesABadFile(t *testing.T) {
	cases := map[string]struct{ compose, want string }{
		"service_healthy waits on a health check": {`
services:
  db: {image: postgres:16, restart: unless-stopped}
  app: {image: app, restart: unless-stopped, depends_on: {db: {condition: service_healthy}}}
`, "app waits for db to be healthy, which has no health check"},
		"one-shot jobs are not restarted forever": {`
services:
  migrate: {image: tool, restart: always}
  app: {image: app, restart: unless-stopped, depends_on: {migrate: {condition: service_completed_successfully}}}
`, "migrate is waited on to complete but restarts always"},
		"ports are published on loopback only": {`
services:
  temporal: {image: temporalio/server, restart: unless-stopped, ports: ["7233:7233"]}
`, `temporal publishes 7233 on ""`},
		"bind mounts exist": {`
services:
  app: {image: app, restart: unless-stopped, volumes: ["./no-such-file.yaml:/etc/app.yaml:ro"]}
`, "no-such-file.yaml, which does not exist"},
		"long-running services restart": {`
services:
  app: {image: app}
`, `app has restart ""`},
	}
	require.Len(t, cases, len(ComposeRules))
	dir := t.TempDir()
	for _, r := range ComposeRules {
		tc, ok := cases[r.Name]
		require.True(t, ok, "no bad case for %q", r.Name)
		file := filepath.Join(dir, "compose.yaml")
		require.NoError(t, os.WriteFile(file, []byte("name: bad\n"+tc.compose), 0o644))
		p, err := LoadCompose(context.Background(), file, dir, hostEnv)
		require.NoError(t, err)
		require.Contains(t, strings.Join(r.Check(p), "\n"), tc.want, r.Name)
	}
}

func env(s types.ServiceConfig, key string) string {
	if v := s.Environment[key]; v != nil {
		return *v
	}
	return ""
}

func mounts(s types.ServiceConfig) []string {
	var out []string
	for _, v := range s.Volumes {
		out = append(out, v.Type+" "+v.Source+":"+v.Target)
	}
	return out
}

func ports(s types.ServiceConfig) []string {
	var out []string
	for _, p := range s.Ports {
		out = append(out, p.HostIP+":"+p.Published+"->"+strconv.FormatUint(uint64(p.Target), 10))
	}
	return out
}

// hostPath maps a path inside a service's container to the file a bind mount puts there.
func hostPath(t *testing.T, s types.ServiceConfig, inContainer string) string {
	t.Helper()
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		if inContainer == v.Target {
			return v.Source
		}
		if rest, ok := strings.CutPrefix(inContainer, v.Target+"/"); ok {
			return filepath.Join(v.Source, rest)
		}
	}
	t.Fatalf("%s: no bind mount provides %s", s.Name, inContainer)
	return ""
}

func mustAbs(t *testing.T, p string) string {
	abs, err := filepath.Abs(p)
	require.NoError(t, err)
	return abs
}
