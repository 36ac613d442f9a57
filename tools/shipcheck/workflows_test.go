package shipcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"github.com/stretchr/testify/require"
	"mvdan.cc/sh/v3/syntax"

	"github.com/alexpermiakov/idp/internal/cli"
	"github.com/alexpermiakov/idp/internal/config"
)

var workflowsDir = filepath.Join(repoRoot, ".github", "workflows")

func workflows(t *testing.T) map[string]*actionlint.Workflow {
	t.Helper()
	files, err := WorkflowFiles(workflowsDir)
	require.NoError(t, err)
	out := map[string]*actionlint.Workflow{}
	for _, f := range files {
		w, err := ParseWorkflow(f)
		require.NoError(t, err)
		out[filepath.Base(f)] = w
	}
	require.Equal(t, []string{"bootstrap.yaml", "release.yaml"}, slices.Sorted(func(yield func(string) bool) {
		for k := range out {
			if !yield(k) {
				return
			}
		}
	}))
	return out
}

func platformConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load(filepath.Join(repoRoot, "idp.yaml"))
	require.NoError(t, err)
	return cfg
}

func TestActionlintPassesOnEveryWorkflow(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/rhysd/actionlint").Output()
	require.NoError(t, err)
	version := strings.TrimSpace(string(out))
	require.Equal(t, "v1.7.12", version, "the actionlint the issue names")

	files, err := WorkflowFiles(workflowsDir)
	require.NoError(t, err)
	require.NotEmpty(t, files)
	errs, err := Lint(repoRoot, files)
	require.NoError(t, err)
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	require.Empty(t, msgs)
}

// TestActionlintIsLive proves the linter reports what it should, so a silent pass above means
// something.
func TestActionlintIsLive(t *testing.T) {
	l, err := actionlint.NewLinter(&strings.Builder{}, &actionlint.LinterOptions{})
	require.NoError(t, err)
	errs, err := l.Lint("bad.yaml", []byte(`on: push
jobs:
  a:
    runs-on: ubuntu-24.04
    steps:
      - run: echo "${{ steps.nope.outputs.x }}"
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683
        with: {not-an-input: 1}
`), nil)
	require.NoError(t, err)
	require.NotEmpty(t, errs)
	require.Contains(t, fmt.Sprint(errs), "nope")
}

func TestActionsArePinnedByCommit(t *testing.T) {
	for name, w := range workflows(t) {
		require.Empty(t, UnpinnedUses(w), name)
	}
	bad, errs := actionlint.Parse([]byte(`on: push
jobs:
  a:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-go@d35c59a
      - uses: docker://alpine:3
      - uses: ./.github/actions/local
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683
  b:
    uses: org/repo/.github/workflows/x.yaml@main
`))
	require.Empty(t, errs)
	problems := UnpinnedUses(bad)
	require.Len(t, problems, 4, "%v", problems)
	for _, want := range []string{"actions/checkout@v4", "setup-go@d35c59a", "docker://alpine:3", "x.yaml@main"} {
		require.Contains(t, strings.Join(problems, "\n"), want)
	}
}

// TestWorkflowsUseOIDCToTheGitHubActionsRole: no AWS keys, id-token permission, and the role
// bootstrap creates, in the accounts idp.yaml names.
func TestWorkflowsUseOIDCToTheGitHubActionsRole(t *testing.T) {
	cfg := platformConfig(t)
	envAccounts := map[string]string{}
	var envNames []string
	for _, e := range cfg.Environments {
		require.Equal(t, "GitHubActionsRole", e.GitHubRole, e.Name)
		envAccounts[e.Name] = e.AWS.AccountID
		envNames = append(envNames, e.Name)
	}
	for name, w := range workflows(t) {
		require.NotNil(t, w.Permissions, "%s: permissions are explicit", name)
		require.Nil(t, w.Permissions.All, "%s: no read-all/write-all", name)
		scopes := map[string]string{}
		for k, s := range w.Permissions.Scopes {
			scopes[k] = s.Value.Value
		}
		require.Equal(t, map[string]string{"contents": "read", "id-token": "write"}, scopes, name)

		roles := 0
		for _, id := range sortedJobs(w) {
			for _, st := range w.Jobs[id].Steps {
				in := ActionStep(st, "aws-actions/configure-aws-credentials")
				if in == nil {
					continue
				}
				roles++
				for _, k := range []string{"aws-access-key-id", "aws-secret-access-key", "aws-session-token"} {
					require.NotContains(t, in, k, "%s: OIDC, not stored keys", name)
				}
				role := resolveEnvRefs(in["role-to-assume"], w)
				switch name {
				case "release.yaml":
					require.Equal(t, cfg.Tooling.AWS.AssumeRole, role, "the tooling account's GitHubActionsRole (idp.yaml tooling.aws.assumeRole)")
					require.True(t, strings.HasSuffix(role, ":role/GitHubActionsRole"))
				case "bootstrap.yaml":
					m := regexp.MustCompile(`^arn:aws:iam::\$\{\{ fromJSON\('(.*)'\)\[inputs\.env\] \}\}:role/GitHubActionsRole$`).FindStringSubmatch(role)
					require.NotNil(t, m, role)
					var accounts map[string]string
					require.NoError(t, json.Unmarshal([]byte(m[1]), &accounts))
					require.Equal(t, envAccounts, accounts, "the env accounts of idp.yaml")
				}
				require.Equal(t, cfg.Environments[0].AWS.Region, resolveEnvRefs(in["aws-region"], w))
			}
		}
		require.Equal(t, 1, roles, "%s assumes one role", name)
	}

	boot := workflows(t)["bootstrap.yaml"]
	var options []string
	for _, ev := range boot.On {
		if d, ok := ev.(*actionlint.WorkflowDispatchEvent); ok {
			for _, o := range d.Inputs["env"].Options {
				options = append(options, o.Value)
			}
		}
	}
	require.Equal(t, envNames, options, "the choice offers exactly idp.yaml's environments")
	verify := boot.Jobs["bootstrap"].Steps[len(boot.Jobs["bootstrap"].Steps)-1].Exec.(*actionlint.ExecRun).Run.Value
	for _, e := range cfg.Environments {
		require.Equal(t, "idp-"+e.Name, e.ClusterName, "the verify step derives cluster names as idp-<env>")
	}
	require.Contains(t, verify, `aws eks describe-cluster --name "idp-$ENV_NAME"`)
}

// TestRunScriptsParseAndTakeDataFromEnv: every run script is valid bash and none splices a
// ${{ }} expression into the script (data reaches scripts through env: no script injection).
func TestRunScriptsParseAndTakeDataFromEnv(t *testing.T) {
	n := 0
	for name, w := range workflows(t) {
		for _, id := range sortedJobs(w) {
			for i, st := range w.Jobs[id].Steps {
				run, ok := st.Exec.(*actionlint.ExecRun)
				if !ok {
					continue
				}
				n++
				where := fmt.Sprintf("%s job %s step %d", name, id, i+1)
				require.NotContains(t, run.Run.Value, "${{", where)
				_, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(run.Run.Value), where)
				require.NoError(t, err, where)
			}
		}
	}
	require.Greater(t, n, 5)
}

// TestEveryStarterInvocationParsesWithTheRealCLI runs each starter command line of the
// workflows, with every combination of sample values for the expressions feeding it, through
// cli.Check: cobra's parsing, each command's validation and the checks against idp.yaml (the
// service exists, its tag enters an environment, the env exists), stopping before Temporal.
func TestEveryStarterInvocationParsesWithTheRealCLI(t *testing.T) {
	cfg := platformConfig(t)
	idpYAML, err := filepath.Abs(filepath.Join(repoRoot, "idp.yaml"))
	require.NoError(t, err)
	var services, envNames []string
	for svc := range cfg.Tooling.Repositories {
		services = append(services, svc)
	}
	sort.Strings(services)
	for _, e := range cfg.Environments {
		envNames = append(envNames, e.Name)
	}
	samples := func(expr string) []string {
		switch {
		case expr == "inputs.service":
			return services
		case expr == "inputs.env":
			return envNames
		case expr == "steps.tag.outputs.tag":
			return []string{"sha-1a2b3c4", "v1.2.3"}
		case expr == "github.actor":
			return []string{"octocat"}
		case strings.HasPrefix(expr, "vars.TEMPORAL_"), strings.HasPrefix(expr, "secrets.TEMPORAL_"):
			return []string{"sample"}
		}
		return nil
	}
	want := map[string][]string{"release.yaml": {"promote"}, "bootstrap.yaml": {"bootstrap"}}
	for name, w := range workflows(t) {
		invs, err := Invocations(w, "starter", samples)
		require.NoError(t, err, name)
		var subcommands []string
		for _, inv := range invs {
			if !slices.Contains(subcommands, inv.Args[0]) {
				subcommands = append(subcommands, inv.Args[0])
			}
			// idp.yaml is the platform checkout's; the test points it at this repository's.
			require.Equal(t, filepath.Join(platformDir(t, w), "idp.yaml"), inv.Env["IDP_CONFIG"], "%s: IDP_CONFIG", name)
			t.Run(fmt.Sprintf("%s/%s", name, strings.Join(inv.Args, " ")), func(t *testing.T) {
				for k, v := range inv.Env {
					t.Setenv(k, v)
				}
				t.Setenv("IDP_CONFIG", idpYAML)
				t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
				require.NoError(t, cli.Check(context.Background(), inv.Args))
			})
		}
		require.Equal(t, want[name], subcommands, name)
		require.GreaterOrEqual(t, len(invs), 2, "%s: every sample combination is checked", name)
	}
}

// TestStarterCheckCatchesBadInvocations shows the same path refusing what starter refuses.
func TestStarterCheckCatchesBadInvocations(t *testing.T) {
	w, errs := actionlint.Parse([]byte(`on: push
jobs:
  a:
    runs-on: ubuntu-24.04
    steps:
      - env: {TAG: "${{ steps.tag.outputs.tag }}"}
        run: |
          bin/starter promote --service time-service --tag "$TAG" --wiat
          bin/starter promote --service billing --tag "$TAG"
          bin/starter bootstrap --env qa
          ./starter promote --service time-service
`))
	require.Empty(t, errs)
	invs, err := Invocations(w, "starter", func(string) []string { return []string{"v1.2.3"} })
	require.NoError(t, err)
	require.Len(t, invs, 4)
	t.Setenv("IDP_CONFIG", filepath.Join(repoRoot, "idp.yaml"))
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	for i, want := range []string{"unknown flag: --wiat", "billing", "qa", "--tag is required"} {
		err := cli.Check(context.Background(), invs[i].Args)
		require.ErrorContains(t, err, want, "%v", invs[i].Args)
	}

	_, err = Invocations(w, "starter", func(string) []string { return nil })
	require.ErrorContains(t, err, "no sample values for ${{ steps.tag.outputs.tag }}")
}

// platformDir is where a workflow checks out the platform repository: the path of the checkout
// step naming it, or the workspace itself for a workflow that runs in it.
func platformDir(t *testing.T, w *actionlint.Workflow) string {
	t.Helper()
	_, reusable := w.FindWorkflowCallEvent()
	for _, id := range sortedJobs(w) {
		for _, st := range w.Jobs[id].Steps {
			in := ActionStep(st, "actions/checkout")
			if in == nil {
				continue
			}
			if in["repository"] == PlatformRepository {
				return in["path"]
			}
			if in["repository"] == "" && !reusable {
				return in["path"]
			}
		}
	}
	t.Fatal("no checkout of the platform repository")
	return ""
}

// resolveEnvRefs replaces ${{ env.NAME }} with the workflow-level env value.
func resolveEnvRefs(s string, w *actionlint.Workflow) string {
	return regexp.MustCompile(`\$\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`).ReplaceAllStringFunc(s, func(m string) string {
		name := regexp.MustCompile(`env\.([A-Za-z_][A-Za-z0-9_]*)`).FindStringSubmatch(m)[1]
		if w.Env != nil {
			for _, v := range w.Env.Vars {
				if v.Name.Value == name {
					return v.Value.Value
				}
			}
		}
		return m
	})
}
