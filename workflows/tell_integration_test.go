package workflows

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/alexpermiakov/idp/activities/notify"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

// receiver is a webhook made with httptest: it keeps every body posted to it, in order, and
// answers status (200 unless set).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies map[string][][]byte // by path
	calls  int
	status int
}

func newReceiver(t *testing.T, status int) *receiver {
	t.Helper()
	r := &receiver{bodies: map[string][][]byte{}, status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls++
		if req.Header.Get("Content-Type") == "application/json" && json.Valid(b) {
			r.bodies[req.URL.Path] = append(r.bodies[req.URL.Path], b)
		}
		w.WriteHeader(r.status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// events are the JSON events posted to path, in order.
func (r *receiver) events(t *testing.T, path string) []notify.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []notify.Event{}
	for _, b := range r.bodies[path] {
		var ev notify.Event
		require.NoError(t, json.Unmarshal(b, &ev))
		out = append(out, ev)
	}
	return out
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// Secret paths: what a Slack webhook URL carries as its token.
const (
	slackPath = "/services/T000/B000/slack-secret-0123456789"
	jsonPath  = "/hooks/json-secret-9876543210"
)

// notifyWorker runs Promote with the stand-in activities, the real Send posting to targets
// whose URLs are in env (by variable name), and envs as the promotion's path.
func notifyWorker(t *testing.T, c client.Client, env map[string]string, envs ...policy.Env) {
	t.Helper()
	notifyWorkerWith(t, c, env, nil, envs...)
}

// notifyWorkerWith is notifyWorker with the stand-ins in stubs replacing the usual ones.
func notifyWorkerWith(t *testing.T, c client.Client, env map[string]string, stubs map[string]any, envs ...policy.Env) {
	t.Helper()
	targets := []config.NotifyTarget{{Name: "chat", Format: "slack", URLFrom: "env:IDP_TEST_SLACK"},
		{Name: "bus", Format: "json", URLFrom: "env:IDP_TEST_JSON"}}
	cfg := &config.Config{}
	for _, e := range envs {
		cfg.Environments = append(cfg.Environments, config.Environment{Name: e.Name, Notify: targets})
	}
	all := promoteStubs()
	delete(all, "Send")
	for name, fn := range stubs {
		all[name] = fn
	}
	stubs = all
	stubs["PlanPromotion"] = func(context.Context, policy.Input) (platform.PromotionOutput, error) {
		return platform.PromotionOutput{Envs: envs}, nil
	}
	w := worker.New(c, api.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(Lock, workflowOptions(api.LockWorkflowName))
	w.RegisterActivity(&platform.Signaller{Client: c})
	registerStubs(w, stubs, nil)
	w.RegisterActivity(&notify.Activities{Config: cfg, Getenv: func(k string) string { return env[k] }})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
}

// TestNotificationsOnADevServer promotes through staging to prod, where bob approves after the
// reminder: the receiver gets, in order, staging promoted, prod's approval request (with the
// exact approve command and digest), one reminder, bob's approval and prod promoted, in both
// forms; the webhook URLs appear nowhere in the run's history.
func TestNotificationsOnADevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Temporal dev server; not part of -short")
	}
	c := devServer(t)
	rcv := newReceiver(t, http.StatusOK)
	stg, prd := staging(), prod(1)
	stg.Soak = time.Second
	prd.Approval.RemindAfter = config.Duration(2 * time.Second)
	notifyWorker(t, c, map[string]string{"IDP_TEST_SLACK": rcv.srv.URL + slackPath, "IDP_TEST_JSON": rcv.srv.URL + jsonPath}, stg, prd)

	ctx := context.Background()
	id := api.PromoteID("time-service", "v7.0.0")
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: api.TaskQueue}, api.PromoteWorkflowName,
		api.PromoteInput{Service: "time-service", Tag: "v7.0.0", To: "prod", Requester: "alice"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		for _, ev := range rcv.events(t, jsonPath) {
			if ev.Type == notify.ApprovalReminder {
				return true
			}
		}
		return false
	}, time.Minute, 100*time.Millisecond, "a reminder after remindAfter")
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: api.ApproveUpdate,
		Args: []any{api.ApproveInput{Who: "bob", Subject: digest}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	require.NoError(t, h.Get(ctx, nil))
	var st api.Status
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, api.StageDone, st.Stage)

	evs := rcv.events(t, jsonPath)
	types := []string{}
	for _, ev := range evs {
		types = append(types, ev.Type+" "+ev.Env)
		require.Equal(t, []string{"promote", "time-service", "v7.0.0", digest, id}, []string{ev.Kind, ev.Service, ev.Tag, ev.Digest, ev.WorkflowID}, ev.Type)
		require.NotEmpty(t, ev.Text)
		require.False(t, ev.Time.IsZero())
	}
	require.Equal(t, []string{"promoted staging", "approval_requested prod", "approval_reminder prod", "approved prod", "promoted prod"}, types)
	req := evs[1]
	require.Equal(t, "starter approve "+id+" --subject "+digest+" --as USER", req.ApproveCommand)
	require.Equal(t, []string{digest, "alice"}, []string{req.Subject, req.Who})
	require.Contains(t, req.Text, "alice, bob, carol")
	require.Equal(t, "bob", evs[3].Who)

	var slack []map[string]any
	rcv.mu.Lock()
	for _, b := range rcv.bodies[slackPath] {
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		slack = append(slack, m)
	}
	rcv.mu.Unlock()
	require.Len(t, slack, 5)
	require.Equal(t, evs[1].Text, slack[1]["text"])
	blocks, _ := json.Marshal(slack[1]["blocks"])
	require.Contains(t, string(blocks), req.ApproveCommand)

	requireNotInHistory(t, c, id, []string{rcv.srv.URL, "slack-secret-0123456789", "json-secret-9876543210"})
}

// requireNotInHistory fails when any of secrets appears in the run's history, in its payloads'
// bytes or in its JSON form.
func requireNotInHistory(t *testing.T, c client.Client, id string, secrets []string) {
	t.Helper()
	it := c.GetWorkflowHistory(context.Background(), id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		n++
		raw, err := proto.Marshal(ev)
		require.NoError(t, err)
		js, err := protojson.Marshal(ev)
		require.NoError(t, err)
		for _, s := range secrets {
			require.False(t, bytes.Contains(raw, []byte(s)) || bytes.Contains(js, []byte(s)),
				"history event %d (%s) holds %q", ev.GetEventId(), ev.GetEventType(), s)
		}
	}
	require.Greater(t, n, 20, "the history was read")
}

// TestAFailingReceiverDoesNotFailThePromotion: a webhook that answers 500 to everything is
// tried three times per event, and the promotion still ends done.
func TestAFailingReceiverDoesNotFailThePromotion(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Temporal dev server; not part of -short")
	}
	c := devServer(t)
	rcv := newReceiver(t, http.StatusInternalServerError)
	notifyWorker(t, c, map[string]string{"IDP_TEST_JSON": rcv.srv.URL + jsonPath}, staging()) // chat's variable is unset
	ctx := context.Background()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: api.PromoteID("time-service", "v7.0.1"), TaskQueue: api.TaskQueue},
		api.PromoteWorkflowName, api.PromoteInput{Service: "time-service", Tag: "v7.0.1", To: "staging", Requester: "alice"})
	require.NoError(t, err)
	var st api.Status
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, api.StageDone, st.Stage)
	require.Equal(t, api.EnvDone, st.Environments[0].State)
	require.Equal(t, 3, rcv.count(), "the promoted event, tried three times")
}
