package terraform

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTerraformInheritsNoSecrets: infra/ runs code at plan time (data "external"), before
// any approval, so nothing that authenticates the worker may reach terraform's environment.
func TestTerraformInheritsNoSecrets(t *testing.T) {
	secrets := []string{"IDP_GIT_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "IDP_GITHUB_APP_ID", "IDP_GITHUB_APP_PRIVATE_KEY",
		"IDP_SIGNING_KEY", "TEMPORAL_API_KEY", "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_DATA",
		"SOME_OPERATOR_SECRET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "TF_VAR_token", "TF_CLI_ARGS"}
	for _, k := range secrets {
		t.Setenv(k, "secret-"+k)
	}
	kept := map[string]string{"PATH": "/usr/bin:/bin", "HOME": "/home/idp", "TMPDIR": "/tmp/idp",
		"HTTPS_PROXY": "http://proxy:3128", "no_proxy": "localhost", "SSL_CERT_FILE": "/etc/ca.pem",
		"LC_ALL": "C.UTF-8"}
	for k, v := range kept {
		t.Setenv(k, v)
	}

	snap := devSnapshot()
	got, err := processEnv(context.Background(), &snap.Env, "/run/terraform.rc")
	require.NoError(t, err)
	for _, k := range secrets {
		require.NotEqual(t, "secret-"+k, got[k], "%s reaches terraform", k)
		for name, v := range got {
			require.NotContains(t, v, "secret-", "%s carries a worker secret", name)
		}
	}
	for k, v := range kept {
		require.Equal(t, v, got[k], k)
	}
	// what idp sets: the env account's credentials, region and endpoint, and its CLI config
	require.Equal(t, "idp-emulator", got["AWS_ACCESS_KEY_ID"])
	require.Equal(t, "idp-emulator", got["AWS_SECRET_ACCESS_KEY"])
	require.Equal(t, "us-west-2", got["AWS_REGION"])
	require.Equal(t, "http://127.0.0.1:1", got["AWS_ENDPOINT_URL"])
	require.Equal(t, "/run/terraform.rc", got["TF_CLI_CONFIG_FILE"])
	require.NotContains(t, got, "TF_CLI_ARGS")
	// AWS_CA_BUNDLE on its own: set above, the SDK would read the file while loading the
	// env's configuration.
	require.Equal(t, map[string]string{"AWS_CA_BUNDLE": "/etc/aws-ca.pem", "LC_CTYPE": "C"},
		inheritedEnv([]string{"AWS_CA_BUNDLE=/etc/aws-ca.pem", "AWS_CONFIG_FILE=/x", "PATHS=x", "LC_CTYPE=C", "GITHUB_TOKEN=x"}))
}
