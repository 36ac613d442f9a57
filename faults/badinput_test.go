//go:build faults

package faults

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"gopkg.in/yaml.v3"

	"github.com/alexpermiakov/idp/cmd/sandbox/stack"
	"github.com/alexpermiakov/idp/cmd/sandbox/stack/stacktest"
	"github.com/alexpermiakov/idp/workflows/api"
)

// badCase is one bad request to bin/starter: it must exit with code (2 unless set) and one
// line naming the problem (want) and the fix (fix), and start nothing.
type badCase struct {
	name string
	args []string
	// edit, when set, runs the case with --config pointing at a copy of the sandbox's idp.yaml
	// edit changed; raw, when set, is that copy's whole text instead.
	edit func(m map[string]any)
	raw  string
	env  []string
	want []string
	code int
	// noRun is a workflow ID the request names, which must not exist afterwards.
	noRun string
}

// TestBadInput: bad input to bin/starter (unknown names, malformed idp.yaml for every kind of
// field, impossible policies, decisions on runs that wait for none, Temporal away). Must hold
// after each: exit 2 (3 when Temporal cannot be reached), one line that names the problem and
// the fix, and no new workflow on the dev server. A manifest idp cannot edit is found by the
// run (starter cannot read the repository): the run fails naming the file and the YAML path,
// with nothing committed. The recovery time is that of the whole table (no bootstrap needed).
func TestBadInput(t *testing.T) {
	begin := time.Now()
	r := up(t, stack.Options{})
	// dev's promotions wait for an approval that expires in 3 s: the expired-approval case.
	editConfig(t, r.S.Config, r.S.Config, func(m map[string]any) {
		promotion(m, "dev")["approval"] = map[string]any{"required": true, "approvers": []any{"alice", "bob"},
			"minApprovals": 1, "expiry": "3s"}
	})
	r.StartWorker()
	ctx := context.Background()
	for _, p := range []stack.PushOptions{{Service: "version-service", Tag: "sha-aaaaaaa"},
		{Service: "time-service", Tag: "sha-bbbbbbb"}, {Service: "time-service", Tag: "sha-ccccccc"}} {
		_, err := stack.PushImage(ctx, r.S.Endpoints["tooling"], p)
		require.NoError(t, err)
	}

	for _, c := range configCases() {
		r.badCase(t, c)
	}
	for _, c := range cliCases(r) {
		r.badCase(t, c)
	}
	r.uneditableManifest(t)
	r.decisionCases(t)
	Recovered(t, "bad input (whole table)", time.Since(begin))
}

// configCases are idp.yaml copies with one problem each, every kind of field.
func configCases() []badCase {
	boot := []string{"bootstrap", "--env", "dev", "--no-sign"}
	cs := []badCase{
		{name: "yaml syntax", raw: "repository:\n  url: x\n url: y\n", want: []string{"not valid YAML: line 2", "fix the syntax"}},
		{name: "unknown field", edit: func(m map[string]any) { sub(m, "repository")["brnach"] = "main" },
			want: []string{"field brnach not found", "fix the field's name"}},
		{name: "string enum", edit: func(m map[string]any) { sub(m, "repository")["provider"] = "svn" },
			want: []string{"repository.provider", `"git" or "github"`}},
		{name: "duration", edit: func(m map[string]any) { promotion(m, "dev")["soak"] = "90 seconds" },
			want: []string{"invalid duration \"90 seconds\"", "use e.g. 90s"}},
		{name: "bool", edit: func(m map[string]any) { sub(m, "tooling")["grantPull"] = "maybe" },
			want: []string{"`maybe` into a boolean", "fix the field's"}},
		{name: "int", edit: func(m map[string]any) { approval(m, "prod")["minApprovals"] = "two" },
			want: []string{"`two` into a whole number", "fix the field's"}},
		{name: "negative int", edit: func(m map[string]any) { approval(m, "prod")["minApprovals"] = -1 },
			want: []string{"promotion.approval.minApprovals", "at least 1"}},
		{name: "list given a string", edit: func(m map[string]any) { approval(m, "prod")["approvers"] = "bob" },
			want: []string{"into a list of strings", "fix the field's"}},
		{name: "map given a list", edit: func(m map[string]any) { sub(m, "tooling")["repositories"] = []any{"time-service"} },
			want: []string{"a list into a mapping", "fix the field's"}},
		{name: "regexp", edit: func(m map[string]any) { promotion(m, "dev")["entryPattern"] = "^sha-(" },
			want: []string{"promotion.entryPattern", "not a valid regular expression"}},
		{name: "account ID not digits", edit: func(m map[string]any) { awsOf(m, "staging")["accountId"] = "<STAGING_ACCOUNT_ID>" },
			want: []string{"environments[1](staging).aws.accountId", "must be 12 digits", "aws sts get-caller-identity"}},
		{name: "placeholder account ID", edit: func(m map[string]any) {
			a := awsOf(m, "prod")
			a["accountId"] = "123456789012"
			delete(a, "endpoint")
		}, want: []string{"environments[2](prod).aws.accountId", "is a placeholder", "aws sts get-caller-identity"}},
		{name: "region", edit: func(m map[string]any) { awsOf(m, "dev")["region"] = "oregon" },
			want: []string{"aws.region", "like us-west-2"}},
		{name: "bucket name", edit: func(m map[string]any) { env(m, "dev")["stateBucket"] = "State_Bucket" },
			want: []string{"stateBucket", "valid S3 bucket name"}},
		{name: "assumeRole", edit: func(m map[string]any) { awsOf(m, "dev")["assumeRole"] = "admin" },
			want: []string{"aws.assumeRole", "IAM role ARN"}},
		{name: "requirePassed a later env", edit: func(m map[string]any) { promotion(m, "staging")["requirePassed"] = "prod" },
			want: []string{"promotion.requirePassed", "earlier environment"}},
		{name: "duplicate env", edit: func(m map[string]any) {
			delete(promotion(m, "prod"), "requirePassed")
			env(m, "prod")["name"] = "staging"
		},
			want: []string{"environments[2](staging).name: duplicates environments[1]", "give each environment its own name"}},
		{name: "service name not a DNS label", edit: func(m map[string]any) { sub(sub(m, "tooling"), "repositories")["Time_Service"] = "idp/x" },
			want: []string{"tooling.repositories.Time_Service", "DNS label", "e.g. time-service"}},
		{name: "duplicate approvers", edit: func(m map[string]any) { approval(m, "prod")["approvers"] = []any{"alice", "bob", "Bob"} },
			want: []string{"approvers[2]", "lists \"Bob\" twice"}},
		{name: "approver not a person", edit: func(m map[string]any) { approval(m, "prod")["approvers"] = []any{"alice", "bob", "mallory"} },
			want: []string{"approvers[2]", "\"mallory\" is not under people: add them there"}},
		{name: "impossible gate", edit: func(m map[string]any) { approval(m, "prod")["minApprovals"] = 3 },
			want: []string{"promotion.approval.approvers", "minApprovals is 3", "could never open"}},
		{name: "prod gate open to anyone", edit: func(m map[string]any) {
			a := approval(m, "prod")
			delete(a, "approvers")
			a["requireSignatures"] = false
		},
			want: []string{"promotion.approval.approvers", "anyone could approve in production", "name the people"}},
		{name: "webhook URL in idp.yaml", edit: func(m map[string]any) {
			env(m, "dev")["notify"] = []any{map[string]any{"urlFrom": "https://hooks.slack.com/services/T0/B0/x"}}
		}, want: []string{"notify[0].urlFrom: holds a URL", "write env:NAME or file:PATH"}},
		{name: "missing config", args: append([]string{"--config", "/nonexistent/idp.yaml"}, boot...),
			want: []string{"/nonexistent/idp.yaml", "pass --config or set IDP_CONFIG"}},
	}
	for i := range cs {
		if cs[i].args == nil {
			cs[i].args = boot
		}
		cs[i].name = "idp.yaml: " + cs[i].name
		cs[i].noRun = api.BootstrapID("dev")
	}
	return cs
}

// cliCases are bad flags and names against the sandbox's valid idp.yaml.
func cliCases(r *rig) []badCase {
	promote := func(args ...string) []string {
		return append([]string{"promote", "--as", "alice", "--no-sign"}, args...)
	}
	long := strings.Repeat("s", 300)
	closed := fmt.Sprintf("127.0.0.1:%d", stacktest.FreePort(r.t))
	return []badCase{
		{name: "unknown env", args: []string{"bootstrap", "--env", "qa", "--no-sign"}, want: []string{`unknown environment "qa"`, "idp.yaml defines: dev, staging, prod"}, noRun: "bootstrap-qa"},
		{name: "env with a slash", args: []string{"bootstrap", "--env", "dev/x", "--no-sign"}, want: []string{`unknown environment "dev/x"`, "defines: dev"}},
		{name: "no env", args: []string{"bootstrap", "--no-sign"}, want: []string{"--env is required", "e.g. --env dev"}},
		{name: "unknown service", args: promote("--service", "clock", "--tag", "sha-1a2b3c4"), want: []string{`unknown service "clock"`, "tooling.repositories lists: time-service, version-service"}, noRun: "promote-clock-sha-1a2b3c4"},
		{name: "service of 300 characters", args: promote("--service", long, "--tag", "sha-1a2b3c4"), want: []string{"unknown service", "tooling.repositories lists"}},
		{name: "tag matching no entry pattern", args: promote("--service", "time-service", "--tag", "latest"), want: []string{`tag "latest" matches no environment's entry pattern`, "dev: ^sha-"}, noRun: "promote-time-service-latest"},
		{name: "tag missing in ECR", args: promote("--service", "time-service", "--tag", "sha-0000000"), want: []string{"idp/localtime:sha-0000000 is not in ECR", "push it first"}, noRun: "promote-time-service-sha-0000000"},
		{name: "tag not an OCI tag", args: promote("--service", "time-service", "--tag", "v1/2"), want: []string{`--tag "v1/2" is not a valid image tag`, "e.g. v1.2.3"}},
		{name: "no tag", args: promote("--service", "time-service"), want: []string{"--tag is required", "e.g. --tag sha-1a2b3c4"}},
		{name: "--to before the entry env", args: promote("--service", "time-service", "--tag", "v1.2.3", "--to", "dev"), want: []string{"--to dev comes before staging", "where tag v1.2.3 enters"}, noRun: "promote-time-service-v1.2.3"},
		{name: "--to an env the tag cannot reach", args: promote("--service", "time-service", "--tag", "sha-bbbbbbb", "--to", "prod"), want: []string{"cannot go to prod", "staging only takes tags matching"}, noRun: "promote-time-service-sha-bbbbbbb"},
		{name: "--to unknown env", args: promote("--service", "time-service", "--tag", "sha-bbbbbbb", "--to", "qa"), want: []string{`unknown environment "qa" for --to`, "defines: dev, staging, prod"}},
		{name: "--key with --no-sign", args: []string{"bootstrap", "--env", "dev", "--no-sign", "--key", "/tmp/k"}, want: []string{"--key and --no-sign contradict", "or send the request unsigned"}},
		{name: "unknown command", args: []string{"deploy"}, want: []string{`unknown command "deploy"`}},
		{name: "unknown flag", args: promote("--service", "time-service", "--tag", "sha-bbbbbbb", "--force"), want: []string{"unknown flag: --force"}},
		{name: "status -o yaml", args: []string{"status", "bootstrap-dev", "-o", "yaml"}, want: []string{"-o must be json or text"}},
		{name: "approve an unknown run", args: []string{"approve", "promote-time-service-sha-9999999", "--as", "bob"}, want: []string{"no run with ID promote-time-service-sha-9999999", "see `starter list`"}},
		{name: "reject without a reason", args: []string{"reject", "bootstrap-dev", "--as", "bob"}, want: []string{"--reason is required", "say why"}},
		{name: "Temporal unreachable: status", args: []string{"status", "bootstrap-dev"}, env: []string{"TEMPORAL_ADDRESS=" + closed}, code: 3,
			want: []string{"connecting to Temporal at " + closed, "set TEMPORAL_ADDRESS"}},
		{name: "Temporal unreachable: promote", args: promote("--service", "time-service", "--tag", "sha-bbbbbbb"), env: []string{"TEMPORAL_ADDRESS=" + closed}, code: 3,
			want: []string{"connecting to Temporal at " + closed, "make sandbox-up"}, noRun: "promote-time-service-sha-bbbbbbb"},
	}
}

// badCase runs one case and checks its exit code, its one line and that nothing started.
func (r *rig) badCase(t *testing.T, c badCase) {
	t.Helper()
	args := c.args
	if c.edit != nil || c.raw != "" {
		path := filepath.Join(t.TempDir(), "idp.yaml")
		if c.raw != "" {
			require.NoError(t, os.WriteFile(path, []byte(c.raw), 0o644))
		} else {
			editConfig(t, r.S.Config, path, c.edit)
		}
		args = append([]string{"--config", path}, args...)
	}
	before := r.workflowRuns(t)
	code, out := r.starterWith(c.env, args...)
	want := c.code
	if want == 0 {
		want = 2
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Equal(t, want, code, "%s: exit code; output:\n%s", c.name, out)
	require.Len(t, lines, 1, "%s: want one line, got:\n%s", c.name, out)
	for _, w := range c.want {
		require.Contains(t, out, w, "%s", c.name)
	}
	require.Equal(t, before, r.workflowRuns(t), "%s started a workflow", c.name)
	if c.noRun != "" {
		r.noRun(t, c.noRun, c.name)
	}
	t.Logf("%-40s exit %d: %s", c.name, code, strings.TrimSpace(out))
}

// uneditableManifest: version-service's dev manifest sets app.image in helm parameters, which
// idp does not edit. The run fails naming the file and the YAML path; nothing is committed
// and no branch pushed.
func (r *rig) uneditableManifest(t *testing.T) {
	t.Helper()
	work := filepath.Join(t.TempDir(), "platform")
	gitRun(t, "", "clone", "--quiet", r.S.RepoURL, work)
	file := "argocd/applications/dev/version-service.yaml"
	b, err := os.ReadFile(filepath.Join(work, file))
	require.NoError(t, err)
	edited := strings.Replace(string(b), "      helm:\n", "      helm:\n        parameters:\n          - name: app.image\n            value: example.invalid/version:old\n", 1)
	require.NotEqual(t, string(b), edited)
	require.NoError(t, os.WriteFile(filepath.Join(work, file), []byte(edited), 0o644))
	gitRun(t, work, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "--quiet", "-am", "an image parameter idp cannot edit")
	gitRun(t, work, "push", "--quiet", "origin", "main")
	refsBefore := gitRun(t, "", "ls-remote", r.S.RepoURL)

	code, out := r.starterWith(nil, "promote", "--service", "version-service", "--tag", "sha-aaaaaaa", "--as", "alice", "--no-sign", "--wait")
	require.Equal(t, 1, code, out)
	for _, w := range []string{file, "spec.sources[0].helm.parameters[0]", "idp does not edit parameters"} {
		require.Contains(t, out, w)
	}
	require.Equal(t, refsBefore, gitRun(t, "", "ls-remote", r.S.RepoURL), "the failed run changed the repository")
	t.Logf("uneditable manifest: exit %d: %s", code, lastLine(out))
}

// decisionCases: approving runs that wait for nothing: one that failed, one whose approval
// expired, one waiting at a frozen env's door.
func (r *rig) decisionCases(t *testing.T) {
	t.Helper()
	failedID := api.PromoteID("version-service", "sha-aaaaaaa")
	r.badCase(t, badCase{name: "approve a finished run", args: []string{"approve", failedID, "--as", "bob"},
		want: []string{failedID + " is not waiting for an approval (stage failed", "idp does not edit parameters"}})

	expiredID := api.PromoteID("time-service", "sha-bbbbbbb")
	code, out := r.Starter("promote", "--service", "time-service", "--tag", "sha-bbbbbbb", "--as", "alice", "--no-sign")
	require.Equal(t, 0, code, out)
	r.AwaitStatus(expiredID, 90*time.Second, func(st api.Status) bool { return st.Stage == api.StageFailed })
	r.badCase(t, badCase{name: "approve an expired approval", args: []string{"approve", expiredID, "--as", "bob"},
		want: []string{expiredID + " is not waiting for an approval", "expired"}})

	code, out = r.Starter("freeze", "--env", "dev", "--reason", "bad input test", "--as", "alice", "--no-sign")
	require.Equal(t, 0, code, out)
	waitingID := api.PromoteID("time-service", "sha-ccccccc")
	code, out = r.Starter("promote", "--service", "time-service", "--tag", "sha-ccccccc", "--as", "alice", "--no-sign")
	require.Equal(t, 0, code, out)
	st := r.AwaitStatus(waitingID, 60*time.Second, func(st api.Status) bool { return strings.Contains(strings.Join(st.Steps, "\n"), "frozen") })
	require.Nil(t, st.PendingApproval)
	r.badCase(t, badCase{name: "approve a run waiting for nothing", args: []string{"approve", waitingID, "--as", "bob"},
		want: []string{waitingID + " is not waiting for an approval (stage"}})
	r.badCase(t, badCase{name: "reject a run waiting for nothing", args: []string{"reject", waitingID, "--as", "bob", "--reason", "no"},
		want: []string{waitingID + " is not waiting for an approval (stage"}})
	r.badCase(t, badCase{name: "promote what already runs", args: []string{"promote", "--service", "time-service", "--tag", "sha-ccccccc", "--as", "alice", "--no-sign"},
		want: []string{waitingID + " is already running", "starter watch " + waitingID}})
}

// workflowRuns is every workflow run the dev server lists: ID/run ID → status.
func (r *rig) workflowRuns(t *testing.T) map[string]string {
	t.Helper()
	c := r.Client()
	defer c.Close()
	runs := map[string]string{}
	var token []byte
	for {
		resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{NextPageToken: token})
		require.NoError(t, err)
		for _, e := range resp.Executions {
			runs[e.Execution.WorkflowId+"/"+e.Execution.RunId] = e.Status.String()
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return runs
		}
	}
}

// noRun checks that no workflow with ID id exists.
func (r *rig) noRun(t *testing.T, id, name string) {
	t.Helper()
	c := r.Client()
	defer c.Close()
	_, err := c.DescribeWorkflow(context.Background(), id, "")
	var nf *serviceerror.NotFound
	require.True(t, errors.As(err, &nf), "%s: %s exists (%v)", name, id, err)
}

// starterWith is Starter with variables added to (and overriding) the rig's environment.
func (r *rig) starterWith(env []string, args ...string) (int, string) {
	r.t.Helper()
	cmd := exec.Command(filepath.Join("..", "bin", "starter"), args...)
	cmd.Env = append(append([]string(nil), r.Env...), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	require.NoError(r.t, err, "starter %v", args)
	return 0, string(out)
}

// editConfig writes to dst the idp.yaml at src as edit changed it.
func editConfig(t *testing.T, src, dst string, edit func(m map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, yaml.Unmarshal(b, &m))
	edit(m)
	out, err := yaml.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dst, out, 0o644))
}

func sub(m map[string]any, key string) map[string]any {
	v, ok := m[key].(map[string]any)
	if !ok {
		v = map[string]any{}
		m[key] = v
	}
	return v
}

func env(m map[string]any, name string) map[string]any {
	for _, e := range m["environments"].([]any) {
		if e := e.(map[string]any); e["name"] == name {
			return e
		}
	}
	panic("no env " + name)
}

func awsOf(m map[string]any, name string) map[string]any     { return sub(env(m, name), "aws") }
func promotion(m map[string]any, name string) map[string]any { return sub(env(m, name), "promotion") }
func approval(m map[string]any, name string) map[string]any {
	return sub(promotion(m, name), "approval")
}

func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return string(out)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
