// Package e2e runs idp end to end against the real local stack: the Temporal dev server,
// the AWS emulators, terraform with the real AWS provider, a real Git repository, and the
// worker, driven through the same CLI people use.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/alexpermiakov/idp/cmd/sandbox/stack"
	"github.com/alexpermiakov/idp/cmd/sandbox/stack/stacktest"
	"github.com/alexpermiakov/idp/cmd/worker/events"
	"github.com/alexpermiakov/idp/cmd/worker/setup"
	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/cli"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/observe"
	"github.com/alexpermiakov/idp/workflows/api"
)

// stack starts the sandbox without its worker and runs the worker in this process.
func startStack(t *testing.T) (*config.Config, *stack.Stack) {
	t.Helper()
	s := stacktest.Up(t, stack.Options{NoWorker: true})

	cfg, err := config.Load(s.Config)
	require.NoError(t, err)
	t.Setenv("IDP_CONFIG", s.Config)
	t.Setenv("IDP_KEYS_DIR", s.KeysDir()) // --as NAME signs with the sandbox's key of NAME
	// the sandbox's own Temporal client configuration, never the user's profiles
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(s.Dir(), "temporal.toml"))
	t.Setenv("TEMPORAL_ADDRESS", s.TemporalAddress())
	t.Setenv("TEMPORAL_NAMESPACE", "default")

	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// the worker's metrics, served where the sandbox says bin/worker serves them
	m, err := observe.NewMetrics(quiet)
	require.NoError(t, err)
	srv, err := observe.Serve(s.MetricsAddr, m)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	c, err := client.Dial(client.Options{HostPort: s.TemporalAddress(), Logger: tlog.NewStructuredLogger(quiet), MetricsHandler: m.Handler})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	w := worker.New(c, api.TaskQueue, worker.Options{})
	setup.Register(w, cfg, c)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	// the ECR push event endpoint, where the sandbox's idp.yaml says bin/worker serves it
	secret, err := cfg.ImageWatch.Events.EventsSecret()
	require.NoError(t, err)
	es, err := events.Listen(cfg.ImageWatch.Events.Addr, &events.Handler{Config: cfg, Secret: secret, Client: c, Log: quiet})
	require.NoError(t, err)
	t.Cleanup(es.Close)
	return cfg, s
}

// starter runs the CLI in-process and returns its exit code and output.
func starter(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Main(context.Background(), args, &out, &errOut)
	return code, out.String() + errOut.String()
}

func status(t *testing.T, id string) api.Status {
	t.Helper()
	code, out := starter(t, "status", id, "-o", "json")
	require.Equal(t, 0, code, out)
	var st api.Status
	require.NoError(t, json.Unmarshal([]byte(out), &st), out)
	return st
}

// TestPlatform runs the DESIGN.md story in order on one stack: bootstraps first, then
// promotions, which need the Argo CD the bootstraps install.
func TestPlatform(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end against the local stack; not part of -short")
	}
	cfg, s := startStack(t)
	bootstrap(t, cfg)
	if t.Failed() {
		return
	}
	promote(t, cfg, s)
	gates(t, cfg, s)
}

func bootstrap(t *testing.T, cfg *config.Config) {

	t.Run("dev without approval, then a rerun changes nothing", func(t *testing.T) {
		code, out := starter(t, "bootstrap", "--env", "dev", "--wait", "--as", "alice")
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "bootstrap-dev: done")
		st := status(t, "bootstrap-dev")
		require.Equal(t, api.StageDone, st.Stage)
		require.Positive(t, st.Plan.Add)
		for _, app := range []string{"dev-apps", "time-service-dev", "version-service-dev"} {
			_, sync, health := application(t, cfg, "dev", app)
			require.Equal(t, []string{"Synced", "Healthy"}, []string{sync, health}, app)
		}
		require.False(t, argoInstalled(t, cfg, "staging"), "staging has no Argo CD until it is bootstrapped")

		code, out = starter(t, "bootstrap", "--env", "dev", "--wait", "--as", "alice")
		require.Equal(t, 0, code, out)
		require.Contains(t, out, ": no changes")
		st = status(t, "bootstrap-dev")
		require.Equal(t, 0, st.Plan.Add+st.Plan.Change+st.Plan.Destroy)
		require.Contains(t, st.Steps, "GitHub OIDC provider and role arn:aws:iam::123456789012:role/GitHubActionsRole: no changes")
		require.Contains(t, strings.Join(st.Steps, "\n"), "Argo CD v2.14.21 in dev: ", "install reported")
		for _, step := range st.Steps {
			if strings.HasPrefix(step, "Argo CD v2.14.21 in dev:") {
				require.True(t, strings.HasSuffix(step, "no changes"), "a second install changes nothing: %s", step)
			}
		}
	})

	t.Run("prod waits for a second person too", func(t *testing.T) {
		code, out := starter(t, "bootstrap", "--env", "prod", "--as", "carol")
		require.Equal(t, 0, code, out)
		require.Eventually(t, func() bool {
			return status(t, "bootstrap-prod").Stage == api.StageWaitingApproval
		}, 2*time.Minute, 500*time.Millisecond)
		code, out = starter(t, "approve", "bootstrap-prod", "--as", "bob")
		require.Equal(t, 0, code, out)
	})

	t.Run("staging waits for a second person", func(t *testing.T) {
		code, out := starter(t, "bootstrap", "--env", "staging", "--as", "alice")
		require.Equal(t, 0, code, out)
		code, out = starter(t, "bootstrap", "--env", "staging", "--as", "alice")
		require.Equal(t, 2, code, "a second start while one runs is bad input: %s", out)
		require.Contains(t, out, "already running")

		var st api.Status
		require.Eventually(t, func() bool {
			st = status(t, "bootstrap-staging")
			return st.Stage == api.StageWaitingApproval
		}, 2*time.Minute, 500*time.Millisecond)
		require.NotNil(t, st.PendingApproval)
		require.Equal(t, st.Plan.SHA256, st.PendingApproval.Subject)

		code, out = starter(t, "approve", "bootstrap-staging", "--as", "alice")
		require.Equal(t, 2, code, out)
		require.Contains(t, out, "four-eyes")
		code, out = starter(t, "approve", "bootstrap-staging", "--as", "bob", "--subject", strings.Repeat("0", 64))
		require.Equal(t, 2, code, out)
		require.Contains(t, out, "is not the pending terraform plan")
		require.Empty(t, status(t, "bootstrap-staging").Approvals, "refusals record nothing")

		code, out = starter(t, "approve", "bootstrap-staging", "--as", "bob", "--comment", "checked the VPC")
		require.Equal(t, 0, code, out)
		code, out = starter(t, "watch", "bootstrap-staging")
		require.Equal(t, 0, code, out)

		st = status(t, "bootstrap-staging")
		require.Equal(t, api.StageDone, st.Stage)
		require.Len(t, st.Approvals, 1)
		require.Equal(t, "bob", st.Approvals[0].Who)
		require.Equal(t, "checked the VPC", st.Approvals[0].Comment)

		code, out = starter(t, "list", "--kind", "bootstrap", "--env", "staging", "-o", "json")
		require.Equal(t, 0, code, out)
		var runs []cli.RunSummary
		require.NoError(t, json.Unmarshal([]byte(out), &runs))
		require.Len(t, runs, 1)
		require.Equal(t, "done", runs[0].Stage)
		require.Equal(t, "completed", runs[0].Status)
	})

	t.Run("the environment exists in the emulator", func(t *testing.T) {
		ctx := context.Background()
		env, err := cfg.Env("staging")
		require.NoError(t, err)
		awsCfg, err := awsconf.Load(ctx, env.AWS)
		require.NoError(t, err)
		vpcs, err := ec2.NewFromConfig(awsCfg).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
		require.NoError(t, err)
		require.NotEmpty(t, vpcs.Vpcs)
		cluster, err := eks.NewFromConfig(awsCfg).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String("idp-staging")})
		require.NoError(t, err)
		require.Equal(t, "idp-staging", awssdk.ToString(cluster.Cluster.Name))
		ic := iam.NewFromConfig(awsCfg)
		_, err = ic.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("GitHubActionsRole")})
		require.NoError(t, err)
		providers, err := ic.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
		require.NoError(t, err)
		require.Len(t, providers.OpenIDConnectProviderList, 1)
		_, err = awsconf.S3(awsCfg).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: awssdk.String(env.StateBucket)})
		require.NoError(t, err)
	})

	t.Run("bad input starts nothing", func(t *testing.T) {
		code, out := starter(t, "bootstrap", "--env", "qa")
		require.Equal(t, 2, code)
		require.Contains(t, out, `unknown environment "qa"`)
		code, out = starter(t, "approve", "bootstrap-dev", "--as", "bob")
		require.Equal(t, 2, code)
		require.Contains(t, out, "not waiting for an approval")
		code, out = starter(t, "status", "bootstrap-nope")
		require.Equal(t, 2, code)
		require.Contains(t, out, "no run with ID bootstrap-nope")
		code, _ = starter(t, "list", "--kind", "deploy")
		require.Equal(t, 2, code)
	})
}

// TestSandboxUpDown runs the real binaries: up detached, what it writes, down leaves nothing.
func TestSandboxUpDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack; not part of -short")
	}
	for _, b := range []string{"sandbox", "worker", "temporal"} {
		if _, err := os.Stat(filepath.Join("..", "bin", b)); err != nil {
			t.Fatalf("../bin/%s is missing: run `make build tools`", b)
		}
	}
	dir := t.TempDir()
	bin, _ := filepath.Abs("../bin")
	sandbox := func(args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(bin, "sandbox"), append([]string{"--dir", dir}, args...)...)
		cmd.Dir = ".."
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	run := func(args ...string) string {
		out, err := sandbox(args...)
		require.NoError(t, err, "sandbox %v:\n%s", args, out)
		return out
	}
	// The ports are free when chosen, but one of the stack's own processes (an emulator binds
	// any free port) may take one before Temporal binds it: then try once more with new ones.
	var out string
	var tp, up int
	for attempt := 1; ; attempt++ {
		tp, up = stacktest.FreePort(t), stacktest.FreePort(t)
		var err error
		if out, err = sandbox("up", "--detach", "--temporal-port", fmt.Sprint(tp), "--ui-port", fmt.Sprint(up)); err == nil {
			break
		}
		require.Less(t, attempt, 2, "sandbox up:\n%s", out)
		run("down")
	}
	t.Cleanup(func() { run("down") })
	require.Contains(t, out, "sandbox ready in")
	env, err := os.ReadFile(filepath.Join(dir, "env"))
	require.NoError(t, err)
	for _, want := range []string{"IDP_CONFIG=", fmt.Sprintf("TEMPORAL_ADDRESS=127.0.0.1:%d", tp), "IDP_SANDBOX_AWS_DEV=", "IDP_SANDBOX_AWS_STAGING=", "IDP_SANDBOX_AWS_PROD=", "IDP_SANDBOX_AWS_TOOLING="} {
		require.Contains(t, string(env), want)
	}
	_, err = config.Load(filepath.Join(dir, "idp.yaml"))
	require.NoError(t, err, "the sandbox's idp.yaml is valid")
	metricsURL := envValue(t, string(env), "IDP_SANDBOX_METRICS_URL")
	series, err := observe.Scrape(context.Background(), metricsURL)
	require.NoError(t, err, "bin/worker serves its metrics at IDP_SANDBOX_METRICS_URL")
	require.NotEmpty(t, observe.Find(series, "temporal_worker_start_total", map[string]string{"task_queue": api.TaskQueue}), "the SDK's metrics")

	out = run("image", "push", "time-service", "sha-1a2b3c4")
	digest := strings.Fields(out)[1]
	require.True(t, strings.HasPrefix(digest, "sha256:"), out)
	require.Contains(t, out, "event: 202 started: started promote-time-service-sha-1a2b3c4", "bin/worker took the push event")
	out = run("image", "push", "time-service", "v1.2.3", "--like", "sha-1a2b3c4")
	require.Equal(t, digest, strings.Fields(out)[1], "--like gives the same digest")

	run("down")
	_, metricsPort, err := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(metricsURL, "http://"), observe.MetricsPath))
	require.NoError(t, err)
	mp, err := strconv.Atoi(metricsPort)
	require.NoError(t, err)
	for _, p := range []int{tp, up, mp} {
		require.Eventually(t, func() bool {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err == nil {
				l.Close()
			}
			return err == nil
		}, 10*time.Second, 100*time.Millisecond, "port %d still bound after down", p)
	}
}

// envValue is the value the sandbox's env file exports for name.
func envValue(t *testing.T, env, name string) string {
	t.Helper()
	for _, line := range strings.Split(env, "\n") {
		if v, ok := strings.CutPrefix(line, "export "+name+"="); ok {
			return v
		}
	}
	t.Fatalf("the env file exports no %s:\n%s", name, env)
	return ""
}

// argoInstalled reports whether env's cluster has the Argo CD namespace.
func argoInstalled(t *testing.T, cfg *config.Config, env string) bool {
	t.Helper()
	cs, err := kubernetes.NewForConfig(kubeConfig(t, cfg, env))
	require.NoError(t, err)
	_, err = cs.CoreV1().Namespaces().Get(context.Background(), "argocd", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false
	}
	require.NoError(t, err)
	return true
}
