package workflows

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/metrics"
	"github.com/alexpermiakov/idp/internal/observe"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestMetricsAndLogsOnADevServer runs a worker built as cmd/worker builds it (the SDK's
// OpenTelemetry handler into one Prometheus registry served at /metrics, JSON logs through
// slog) on a Temporal dev server, with stand-ins for the activities that need the whole
// stack: alice promotes v1.2.3 through staging and, approved by bob, prod; v1.2.4 turns
// Degraded in staging and is rolled back. Both runs are then queried, which replays their
// histories on the worker. A scrape of /metrics holds the SDK's metrics and idp's with their
// labels, each counted once; the activities' and workflows' log lines name workflow and run.
func TestMetricsAndLogsOnADevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Temporal dev server; not part of -short")
	}
	_, hostPort := startDevServer(t, "--headless")
	logs := &syncBuffer{}
	logger, err := observe.NewLogger(logs, observe.LogJSON, "info")
	require.NoError(t, err)
	m, err := observe.NewMetrics(logger)
	require.NoError(t, err)
	srv, err := observe.Serve("127.0.0.1:0", m)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	c, err := client.Dial(client.Options{HostPort: hostPort, Logger: tlog.NewStructuredLogger(logger), MetricsHandler: m.Handler})
	require.NoError(t, err)
	t.Cleanup(c.Close)

	w := worker.New(c, api.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(Lock, workflowOptions(api.LockWorkflowName))
	w.RegisterActivity(&platform.Signaller{Client: c})
	registerStubs(w, observedStubs(), nil)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	good, goodRun := promoteApprovedBy(t, c, "v1.2.3", "bob")
	require.Equal(t, api.StageDone, good.Stage)
	bad, badRun := promoteOnce(t, c, "v1.2.4")
	require.Equal(t, api.StageFailed, bad.Stage)
	require.Equal(t, api.EnvRolledBack, bad.Environments[0].State)
	for _, id := range []string{api.PromoteID("time-service", "v1.2.3"), api.PromoteID("time-service", "v1.2.4")} {
		_, err := c.QueryWorkflow(context.Background(), id, "", api.StatusQuery)
		require.NoError(t, err, "a query of a closed run replays its history")
	}

	got, err := observe.Scrape(context.Background(), "http://"+srv.Addr+observe.MetricsPath)
	require.NoError(t, err)
	requireObserved(t, got)
	requireLogsNameTheRun(t, logs.Bytes(), goodRun, badRun)
}

// observedStubs are promoteStubs with the image named by its tag, v1.2.4 Degraded at its
// commit, and Argo CD waits recorded as the real WaitApp records them.
func observedStubs() map[string]any {
	stubs := promoteStubs()
	stubs["ResolveImage"] = func(_ context.Context, in aws.ResolveInput) (aws.ResolveOutput, error) {
		return aws.ResolveOutput{Repository: "idp/localtime", Image: strings.Replace(tagged, "v1.2.3", in.Tag, 1), Digest: digest}, nil
	}
	stubs["WaitApp"] = func(ctx context.Context, in argocd.WaitAppInput) (argocd.WaitAppOutput, error) {
		start := time.Now()
		if in.Root != "" { // the app-of-apps first, as the real WaitApp waits for it
			metrics.Wait(ctx, in.Snapshot.Env.Name, in.Root, metrics.Healthy, start)
		}
		if strings.Contains(in.Image, ":v1.2.4@") {
			metrics.Wait(ctx, in.Snapshot.Env.Name, in.App, metrics.Degraded, start)
			return argocd.WaitAppOutput{}, fail.New(argocd.ErrDegraded, "%s is Degraded: Back-off pulling image", in.App)
		}
		metrics.Wait(ctx, in.Snapshot.Env.Name, in.App, metrics.Healthy, start)
		return argocd.WaitAppOutput{Status: argocd.AppStatus{Sync: "Synced", Health: "Healthy"}}, nil
	}
	return stubs
}

// promoteOnce promotes time-service tag as alice and returns its status and run ID.
func promoteOnce(t *testing.T, c client.Client, tag string) (api.Status, string) {
	t.Helper()
	run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: api.PromoteID("time-service", tag), TaskQueue: api.TaskQueue},
		api.PromoteWorkflowName, api.PromoteInput{Service: "time-service", Tag: tag, To: "prod", Requester: "alice"})
	require.NoError(t, err)
	var st api.Status
	_ = run.Get(context.Background(), &st)
	if st.WorkflowID == "" { // a failed run returns no result: read its status instead
		v, err := c.QueryWorkflow(context.Background(), run.GetID(), run.GetRunID(), api.StatusQuery)
		require.NoError(t, err)
		require.NoError(t, v.Get(&st))
	}
	return st, run.GetRunID()
}

// promoteApprovedBy promotes time-service tag to prod as alice, approved there by who.
func promoteApprovedBy(t *testing.T, c client.Client, tag, who string) (api.Status, string) {
	t.Helper()
	id := api.PromoteID("time-service", tag)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx := context.Background()
		require.Eventually(t, func() bool {
			v, err := c.QueryWorkflow(ctx, id, "", api.StatusQuery)
			var st api.Status
			return err == nil && v.Get(&st) == nil && st.Stage == api.StageWaitingApproval
		}, time.Minute, 100*time.Millisecond)
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: api.ApproveUpdate,
			Args: []any{api.ApproveInput{Who: who, Subject: digest}}, WaitForStage: client.WorkflowUpdateStageCompleted})
		require.NoError(t, err)
		require.NoError(t, h.Get(ctx, nil))
	}()
	st, runID := promoteOnce(t, c, tag)
	<-done
	return st, runID
}

// requireObserved checks a scrape holds the SDK's metrics and idp's, with their labels and
// the values the two runs leave: each counted once, although both histories were replayed.
func requireObserved(t *testing.T, got []observe.Series) {
	t.Helper()
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		s := observe.Find(got, name, labels)
		require.Len(t, s, 1, "%s %v", name, labels)
		return s[0].Value
	}
	sdk := map[string]string{"namespace": "default", "task_queue": api.TaskQueue, "workflow_type": api.PromoteWorkflowName}
	require.Equal(t, 1.0, value("temporal_workflow_completed_total", sdk))
	require.Equal(t, 1.0, value("temporal_workflow_failed_total", sdk))
	require.Positive(t, value("temporal_activity_execution_latency_seconds_count", map[string]string{"activity_type": "WaitApp", "task_queue": api.TaskQueue}))

	svc := func(env, outcome string) map[string]string {
		l := map[string]string{"env": env, "service": "time-service", "workflow_type": api.PromoteWorkflowName}
		if outcome != "" {
			l["outcome"] = outcome
		}
		return l
	}
	require.Equal(t, 1.0, value(metrics.Promotions, svc("staging", metrics.Succeeded)))
	require.Equal(t, 1.0, value(metrics.Promotions, svc("prod", metrics.Succeeded)))
	require.Equal(t, 1.0, value(metrics.Promotions, svc("staging", metrics.RolledBack)))
	require.Len(t, observe.Find(got, metrics.Promotions, nil), 3)
	require.Equal(t, 1.0, value(metrics.Rollbacks, svc("staging", "")))
	require.Equal(t, 1.0, value(metrics.ApprovalWait+"_count", map[string]string{"kind": api.KindPromote, "env": "prod", "outcome": metrics.Approved}))
	require.Equal(t, 1.0, value(metrics.LeadTime+"_count", svc("staging", "")), "v1.2.4 never became Healthy")
	require.Equal(t, 1.0, value(metrics.LeadTime+"_count", svc("prod", "")))
	require.Less(t, value(metrics.LeadTime+"_sum", svc("staging", "")), value(metrics.LeadTime+"_sum", svc("prod", "")))
	wait := func(app, outcome string) float64 {
		return value(metrics.ArgoCDWait+"_count", map[string]string{"env": "staging", "app": app, "outcome": outcome, "activity_type": "WaitApp"})
	}
	require.Equal(t, 1.0, wait("time-service-staging", metrics.Degraded))
	require.Equal(t, 2.0, wait("time-service-staging", metrics.Healthy), "v1.2.3, then v1.2.4's rollback")
	require.Equal(t, 3.0, wait("staging-apps", metrics.Healthy))
}

// requireLogsNameTheRun checks the worker's JSON logs: the stand-in WaitApp's line and the
// workflow's step lines carry the workflow and run IDs.
func requireLogsNameTheRun(t *testing.T, logs []byte, goodRun, badRun string) {
	t.Helper()
	runs := map[string]string{api.PromoteID("time-service", "v1.2.3"): goodRun, api.PromoteID("time-service", "v1.2.4"): badRun}
	var waits, steps int
	sc := bufio.NewScanner(bytes.NewReader(logs))
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), "not JSON: %s", sc.Text())
		id, _ := line["WorkflowID"].(string)
		switch msg, _ := line["msg"].(string); {
		case msg == "Argo CD wait ended":
			waits++
			require.Equal(t, "WaitApp", line["ActivityType"], sc.Text())
		case strings.HasPrefix(msg, "staging runs v1.2.3"), strings.HasPrefix(msg, "prod runs v1.2.3"):
			steps++
			require.Equal(t, api.PromoteWorkflowName, line["WorkflowType"], sc.Text())
		default:
			continue
		}
		require.Contains(t, runs, id, sc.Text())
		require.Equal(t, runs[id], line["RunID"], sc.Text())
	}
	require.Equal(t, 8, waits, "one line per Application waited for: four for v1.2.3, two for v1.2.4 and two for its rollback:\n%s", logs)
	require.Equal(t, 2, steps, "staging and prod each say what they run:\n%s", logs)
}

// syncBuffer is a bytes.Buffer the worker's goroutines and the test can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}
