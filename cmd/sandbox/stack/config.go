package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DetachLog is the log of a detached stack, inside the state directory.
const DetachLog = "sandbox.log"

// TerraformVars switch off, in the sandbox only, the resources whose APIs the AWS emulator
// lacks; infra/entry/variables.tf documents each switch with the API it needs.
var TerraformVars = map[string]any{
	"enable_nat_gateway":               false,
	"attach_aws_managed_policies":      false,
	"enable_access_entries":            false,
	"enable_eks_addons":                false,
	"enable_pod_identity_associations": false,
	"enable_route_table_associations":  false,
	"enable_public_route_table":        false,
}

// writeConfig writes the sandbox's idp.yaml: the real platform's envs, services, patterns and
// policies, pointed at the emulators, with short timeouts suited to a laptop.
func (s *Stack) writeConfig() (string, error) {
	people, err := s.peopleYAML()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Written by bin/sandbox: the real idp.yaml's platform, pointed at the local stack.")
	w("repository:")
	w("  url: %s", s.RepoURL)
	w("  branch: main")
	w("  provider: git")
	w("  github: alexpermiakov/idp")
	w("tooling:")
	w("  aws: {accountId: %q, region: us-west-2, endpoint: %s}", AccountIDs["tooling"], s.Endpoints["tooling"])
	b.WriteString(s.repositoriesYAML())
	w("  # The emulator has no SetRepositoryPolicy: cross-account pull cannot be shown here.")
	w("  grantPull: false")
	w("terraform:")
	w("  workDir: %s", filepath.Join(s.opts.Dir, "work"))
	w("  pluginCache: %s", filepath.Join(s.opts.Dir, "work", "plugin-cache"))
	b.WriteString(people + s.imageWatchYAML())
	w("environments:")
	for _, env := range Environments {
		w("  - name: %s", env)
		w("    aws: {accountId: %q, region: us-west-2, endpoint: %s}", AccountIDs[env], s.Endpoints[env])
		w("    stateBucket: terraform-state-alexidp-%s", env)
		w("    clusterName: idp-%s", env)
		if env == "prod" {
			w("    githubRef: refs/heads/main")
		}
		w("    # The emulator has no AWS-managed policies to attach.")
		w("    githubRolePolicies: []")
		w("    terraformVars:")
		for _, k := range sortedKeys(TerraformVars) {
			w("      %s: %v", k, TerraformVars[k])
		}
		w("    argocd:")
		w("      kubeconfig: %s", s.Kubeconfigs[env])
		w("      # The copy inside the argo-cd Go module: no download.")
		w("      installManifest: %s", s.argoManifest)
		w("      timeout: %s", argoTimeout(s.opts.Services))
		w("    bootstrap:")
		if env == "dev" {
			w("      planApproval: {required: false}")
		} else {
			w("      planApproval: {required: true, fourEyes: true, minApprovals: 1, approvers: [alice, bob, carol], requireSignatures: true, expiry: 1h}")
		}
		w("    promotion:")
		switch env {
		case "dev":
			w("      entryPattern: '^sha-[0-9a-f]{7,40}$'")
			w("      soak: 5s")
		case "staging":
			w("      entryPattern: '^v\\d+\\.\\d+\\.\\d+$'")
			w("      requirePassed: dev")
			w("      # Long enough for a release that goes bad while it soaks to turn Degraded first.")
			w("      soak: 90s")
		case "prod":
			w("      requirePassed: staging")
			w("      approval: {required: true, fourEyes: true, minApprovals: 1, approvers: [alice, bob, carol], requireSignatures: true, expiry: 1h}")
		}
		w("      healthTimeout: %s", healthTimeout(s.opts.Services))
	}
	path := filepath.Join(s.opts.Dir, "idp.yaml")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

// temporalEnv is the Temporal client configuration of everything that talks to the dev
// server: a config file of its own (so neither the user's temporal.toml nor its profiles
// apply) naming the dev server, and the same as variables.
func (s *Stack) temporalEnv() []string {
	return []string{"TEMPORAL_CONFIG_FILE=" + filepath.Join(s.opts.Dir, "temporal.toml"),
		"TEMPORAL_ADDRESS=" + s.TemporalAddress(), "TEMPORAL_NAMESPACE=default"}
}

// writeTemporalConfig writes the dev server as the default profile of .sandbox/temporal.toml,
// which Temporal's own CLI reads as well as idp.
func (s *Stack) writeTemporalConfig() error {
	toml := fmt.Sprintf("[profile.default]\naddress = %q\nnamespace = \"default\"\n", s.TemporalAddress())
	return os.WriteFile(filepath.Join(s.opts.Dir, "temporal.toml"), []byte(toml), 0o644)
}

// writeEnv writes .sandbox/env for `source`: bin/starter and bin/worker then use the stack.
func (s *Stack) writeEnv() error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by bin/sandbox: source it to use the local stack.\n")
	fmt.Fprintf(&b, "export IDP_CONFIG=%s\n", s.Config)
	// Forget the shell's Temporal client settings (an API key, TLS files, a profile for a real
	// cluster) and payload keys: the dev server wants none of them. With --encrypt, the
	// sandbox's own key follows.
	b.WriteString("for v in $(env | sed -n -e 's/^\\(TEMPORAL_[A-Za-z0-9_]*\\)=.*/\\1/p' -e 's/^\\(IDP_CODEC_[A-Za-z0-9_]*\\)=.*/\\1/p'); do unset \"$v\"; done\n")
	for _, kv := range append(s.temporalEnv(), s.codecEnv()...) {
		fmt.Fprintf(&b, "export %s\n", kv)
	}
	fmt.Fprintf(&b, "export TEMPORAL_UI_URL=http://localhost:%d\n", s.opts.UIPort)
	fmt.Fprintf(&b, "export AWS_ENDPOINT_URL=%s\n", s.Endpoints["tooling"])
	fmt.Fprintf(&b, "export AWS_REGION=us-west-2\n")
	fmt.Fprintf(&b, "export AWS_ACCESS_KEY_ID=idp-emulator\nexport AWS_SECRET_ACCESS_KEY=idp-emulator\n")
	for _, a := range Accounts {
		fmt.Fprintf(&b, "export IDP_SANDBOX_AWS_%s=%s\n", strings.ToUpper(a), s.Endpoints[a])
	}
	fmt.Fprintf(&b, "export IDP_SANDBOX_GIT=%s\n", s.RepoURL)
	fmt.Fprintf(&b, "export IDP_SANDBOX_METRICS_URL=%s\n", s.MetricsURL())
	if s.opts.NoWorker {
		fmt.Fprintf(&b, "# bin/worker serves its metrics there.\nexport IDP_METRICS_ADDR=%s\n", s.MetricsAddr)
	}
	fmt.Fprintf(&b, "# starter approve --as NAME signs with %s/NAME.\n", s.KeysDir())
	fmt.Fprintf(&b, "export IDP_KEYS_DIR=%s\n", s.KeysDir())
	for _, env := range Environments {
		fmt.Fprintf(&b, "export IDP_SANDBOX_KUBECONFIG_%s=%s\n", strings.ToUpper(env), s.Kubeconfigs[env])
	}
	if err := s.writeTemporalConfig(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.opts.Dir, "env"), []byte(b.String()), 0o644)
}

// MetricsURL is where a scrape finds the worker's metrics.
func (s *Stack) MetricsURL() string { return "http://" + s.MetricsAddr + "/metrics" }
