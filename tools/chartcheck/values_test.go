package chartcheck

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/cli/values"
)

// TestBadValuesAreRefused: values.schema.json refuses values of the wrong shape, and the
// templates refuse missing and contradictory ones, each with a message naming the value and
// the fix, before anything reaches a cluster.
func TestBadValuesAreRefused(t *testing.T) {
	t.Parallel()
	const schema = "values don't meet the specifications of the schema(s)"
	const tmpl = "invalid values for idp-worker:"
	for _, tc := range []struct {
		name string
		set  []string
		// want are substrings of the error, the first saying which check refused it.
		want []string
	}{
		{"replicas not a number", []string{"replicaCount=two"}, []string{schema, "at '/replicaCount': got string, want integer"}},
		{"negative replicas", []string{"replicaCount=-1"}, []string{schema, "at '/replicaCount': minimum"}},
		{"misspelt key", []string{"temporal.adress=x:7233"}, []string{schema, "at '/temporal': additional properties 'adress' not allowed"}},
		{"unknown top-level key", []string{"replicas=2"}, []string{schema, "additional properties 'replicas' not allowed"}},
		{"address without port", []string{"temporal.address=temporal.example.com"}, []string{schema, "at '/temporal/address'"}},
		{"short digest", []string{"image.digest=sha256:abc"}, []string{schema, "at '/image/digest'"}},
		{"pull policy", []string{"image.pullPolicy=Sometimes"}, []string{schema, "at '/image/pullPolicy'"}},
		{"metrics port", []string{"metrics.port=70000"}, []string{schema, "at '/metrics/port': maximum"}},
		{"role ARN", []string{"serviceAccount.roleArn=idp-worker"}, []string{schema, "at '/serviceAccount/roleArn'"}},
		{"scrape interval", []string{"metrics.serviceMonitor.interval=30"}, []string{schema, "at '/metrics/serviceMonitor/interval'"}},
		{"PDB percentage", []string{"podDisruptionBudget.minAvailable=half"}, []string{schema, "at '/podDisruptionBudget/minAvailable'"}},
		{"Secret name", []string{"git.token.existingSecret=Git_Token"}, []string{schema, "at '/git/token/existingSecret'"}},
		{"extraEnv without name", []string{"extraEnv[0].value=x"}, []string{schema, "at '/extraEnv/0': missing property 'name'"}},
		{"relative mount path", []string{"config.mountPath=etc/idp"}, []string{schema, "at '/config/mountPath'"}},

		{"repository with tag", []string{"image.repository=registry.example.com/idp/worker:v1"},
			[]string{tmpl, `image.repository "registry.example.com/idp/worker:v1" has a tag: give the repository alone`}},
		{"idp.yaml twice", []string{"config.existingConfigMap=platform-idp"}, []string{tmpl, "config.idpYaml and config.existingConfigMap are both set"}},
		{"TLS without Secret", []string{"temporal.tls.enabled=true"}, []string{tmpl, "temporal.tls.enabled is true but temporal.tls.existingSecret is empty"}},
		{"TLS Secret while off", []string{"temporal.tls.existingSecret=temporal-tls"}, []string{tmpl, "temporal.tls.existingSecret is set but temporal.tls.enabled is false"}},
		{"certificate without key", []string{"temporal.tls.enabled=true", "temporal.tls.existingSecret=t", "temporal.tls.keyKey="},
			[]string{tmpl, "temporal.tls.certKey and temporal.tls.keyKey go together"}},
		{"TLS with nothing to mount", []string{"temporal.tls.enabled=true", "temporal.tls.existingSecret=t", "temporal.tls.keyKey=", "temporal.tls.certKey=", "temporal.tls.caKey="},
			[]string{tmpl, "temporal.tls has neither a client certificate"}},
		{"GitHub App without installation", []string{"git.githubApp.appId=1", "git.githubApp.existingSecret=app"},
			[]string{tmpl, "git.githubApp.appId is set but git.githubApp.installationId is not"}},
		{"GitHub App without ID", []string{"git.githubApp.existingSecret=app"}, []string{tmpl, "git.githubApp.appId is not"}},
		{"ServiceMonitor without metrics", []string{"metrics.enabled=false", "metrics.serviceMonitor.enabled=true"},
			[]string{tmpl, "metrics.serviceMonitor.enabled is true but metrics.enabled is false"}},
		{"one port for two listeners", []string{"metrics.port=8081"}, []string{tmpl, "metrics.port and health.port are both 8081"}},
		{"events without a secret", []string{"events.enabled=true"}, []string{tmpl, "events.enabled is true but events.secret.existingSecret is empty"}},
		{"events on the metrics port", []string{"events.enabled=true", "events.secret.existingSecret=e", "events.port=9090"},
			[]string{tmpl, "events.port and metrics.port are both 9090"}},
		{"events service type", []string{"events.service.type=Ingress"}, []string{schema, "at '/events/service/type'"}},
		{"service account to create unnamed", []string{"serviceAccount.create=false"}, []string{tmpl, "serviceAccount.create is false but serviceAccount.name is empty"}},
		{"PDB that blocks drains", []string{"podDisruptionBudget.enabled=true", "podDisruptionBudget.minAvailable=1"},
			[]string{tmpl, "podDisruptionBudget.minAvailable (1) is not below replicaCount (1)"}},
		{"PDB without a bound", []string{"podDisruptionBudget.enabled=true", "podDisruptionBudget.maxUnavailable=0"},
			[]string{tmpl, "podDisruptionBudget.maxUnavailable is 0"}},
		{"extraEnv over the chart's", []string{"extraEnv[0].name=TEMPORAL_ADDRESS", "extraEnv[0].value=other:7233"},
			[]string{tmpl, "extraEnv sets TEMPORAL_ADDRESS, which the chart sets from temporal.address"}},
		{"token in values", []string{"extraEnv[0].name=GITHUB_TOKEN", "extraEnv[0].value=ghp_x"},
			[]string{tmpl, "extraEnv GITHUB_TOKEN has a literal value", "git.token.existingSecret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Render(context.Background(), chartDir, release, namespace, minimalValues(tc.set...))
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestMissingValuesAllAtOnce: with the chart's defaults alone, one error names every value
// that has no default.
func TestMissingValuesAllAtOnce(t *testing.T) {
	t.Parallel()
	_, err := Render(context.Background(), chartDir, release, namespace, values.Options{})
	require.Error(t, err)
	msg := err.Error()
	for _, w := range []string{
		"image.repository is required",
		"temporal.address is required",
		"idp.yaml is missing: set config.idpYaml to its content (--set-file config.idpYaml=idp.yaml) or config.existingConfigMap",
	} {
		require.Contains(t, msg, w)
	}
	require.Equal(t, 3, strings.Count(msg, "\n- "), msg)
}

// TestIdpYamlIsChecked: content that is not YAML, or not an idp.yaml, is refused.
func TestIdpYamlIsChecked(t *testing.T) {
	t.Parallel()
	for content, want := range map[string]string{
		"repository: [unclosed": "config.idpYaml is not YAML",
		"replicas: 3\n":         "config.idpYaml has no environments",
	} {
		opts := values.Options{ValueFiles: []string{"testdata/minimal-values.yaml"}, LiteralValues: []string{"config.idpYaml=" + content}}
		_, err := Render(context.Background(), chartDir, release, namespace, opts)
		require.Error(t, err)
		require.Contains(t, err.Error(), want)
	}
}
