package e2e

// Issue 8's end-to-end gate tests: an attack table against real approval gates, through the
// CLI and through Temporal's own CLI with crafted payloads; a release tag pushed over while
// prod waits for its approval; and unrelated commits racing a prod merge and 20 dev
// promotions on main.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"golang.org/x/crypto/ssh"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/alexpermiakov/idp/cmd/sandbox/stack"
	"github.com/alexpermiakov/idp/cmd/worker/setup"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/signature"
	"github.com/alexpermiakov/idp/workflows/api"
)

// gatesQueue is the task queue of a second in-process worker whose idp.yaml differs from the
// sandbox's in two gates: dev takes two signed approvals (a quorum to attack) and staging's
// approval expires after 20 s (an expiry to wait out). The sandbox's own gates have neither
// (one approval, an hour). Runs started there are real Promote runs on the same stack; their
// locks, keys, Git and ECR are the sandbox's.
const gatesQueue = "idp-e2e-gates"

// gateRun is a run whose gate the attacks aim at.
type gateRun struct {
	ID, Env, Subject string
	// Closed: the run ended (expired, superseded) before the attack.
	Closed bool
}

// gateRuns holds the runs and the keys of the attack table.
type gateRuns struct {
	c    client.Client
	s    *stack.Stack
	keys map[string]ssh.Signer
	// attackerKey is a key file of nobody in idp.yaml; noKeys is a directory without keys.
	attackerKey, noKeys string
	// prod waits for prod's approval (sandbox policy); quorum for two approvals in dev
	// (bob's is in); expired and superseded ended before anyone approved.
	prod, quorum, expired, superseded gateRun
	successor                         string
}

// gates runs the attack table, then the retag attack on the same prod promotion, then the
// main race.
func gates(t *testing.T, cfg *config.Config, s *stack.Stack) {
	g := startGateRuns(t, cfg, s)
	if t.Failed() {
		return
	}
	t.Run("attack table", func(t *testing.T) { attackTable(t, g) })
	t.Run("a tag pushed over while prod waits never reaches prod", func(t *testing.T) { retagAttack(t, cfg, g) })
	t.Run("main race", func(t *testing.T) { mainRace(t, cfg, g) })
}

func dialTemporal(t *testing.T, s *stack.Stack) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: s.TemporalAddress(), Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// startGatesWorker runs the second worker, on gatesQueue, with the variant gates.
func startGatesWorker(t *testing.T, s *stack.Stack, c client.Client) {
	t.Helper()
	vcfg, err := config.Load(s.Config)
	require.NoError(t, err)
	dev, err := vcfg.Env("dev")
	require.NoError(t, err)
	dev.Promotion.Approval = config.Approval{Required: true, FourEyes: true, MinApprovals: 2, RequireSignatures: true,
		Approvers: []string{"alice", "bob", "carol"}, Expiry: config.Duration(15 * time.Minute)}
	stg, err := vcfg.Env("staging")
	require.NoError(t, err)
	stg.Promotion.Approval = config.Approval{Required: true, FourEyes: true, MinApprovals: 1, RequireSignatures: true,
		Approvers: []string{"alice", "bob", "carol"}, Expiry: config.Duration(20 * time.Second)}
	// The expiry row's release is a build that never ran in dev: what it tests is the gate.
	stg.Promotion.RequirePassed = ""
	require.NoError(t, vcfg.Validate(), "the variant is an idp.yaml people could write")
	w := worker.New(c, gatesQueue, worker.Options{})
	setup.Register(w, vcfg, c)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
}

// startVariant starts a promotion on the variant worker, requested by alice.
func startVariant(t *testing.T, c client.Client, service, tag string, supersede bool) string {
	t.Helper()
	id := api.PromoteID(service, tag)
	_, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: gatesQueue},
		api.PromoteWorkflowName, api.PromoteInput{Service: service, Tag: tag, Requester: "alice", Supersede: supersede})
	require.NoError(t, err)
	return id
}

// awaitStatus polls a run's status until ok holds, and returns it.
func awaitStatus(t *testing.T, id string, timeout time.Duration, ok func(api.Status) bool) api.Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := status(t, id)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not there after %s: stage %s, error %q", id, timeout, st.Stage, st.Error)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func waitingIn(env string) func(api.Status) bool {
	return func(st api.Status) bool {
		return st.Stage == api.StageWaitingApproval && st.PendingApproval != nil && st.PendingApproval.Env == env
	}
}

func ended(st api.Status) bool { return st.Stage == api.StageFailed || st.Stage == api.StageDone }

// startGateRuns pushes the images and brings every run of the attack table where it must be.
func startGateRuns(t *testing.T, cfg *config.Config, s *stack.Stack) *gateRuns {
	g := &gateRuns{c: dialTemporal(t, s), s: s, keys: map[string]ssh.Signer{}}
	startGatesWorker(t, s, g.c)
	for _, name := range stack.People {
		b, err := os.ReadFile(filepath.Join(s.KeysDir(), name))
		require.NoError(t, err)
		g.keys[name], err = signature.SignerFromPEM(b)
		require.NoError(t, err)
	}
	g.keys["mallory"], g.attackerKey = attackerKey(t)
	g.noKeys = t.TempDir()

	ctx := context.Background()
	// Staging requires dev first: the release is cut from a build that ran Healthy in dev.
	sandboxCLI(t, s, "image", "push", "time-service", "sha-1c3d5e7")
	code, out := starter(t, "promote", "--service", "time-service", "--tag", "sha-1c3d5e7", "--wait", "--as", "alice")
	require.Equal(t, 0, code, out)
	sandboxCLI(t, s, "image", "push", "time-service", "v1.3.0", "--like", "sha-1c3d5e7")
	for _, img := range [][2]string{{"version-service", "sha-9a0b1c2"}, {"version-service", "v2.9.0"},
		{"time-service", "sha-5e1f0a1"}, {"time-service", "sha-5e1f0a2"}} {
		_, err := stack.PushImage(ctx, cfg.Tooling.AWS.Endpoint, stack.PushOptions{Service: img[0], Tag: img[1]})
		require.NoError(t, err)
	}
	code, out = starter(t, "promote", "--service", "time-service", "--tag", "v1.3.0", "--to", "prod", "--as", "alice")
	require.Equal(t, 0, code, out)
	// The time-service runs below change what dev runs: start them once staging let v1.3.0 in.
	release := api.PromoteID("time-service", "v1.3.0")
	st := awaitStatus(t, release, 4*time.Minute, func(st api.Status) bool { return passedDev(st) || ended(st) })
	require.NotEqual(t, api.StageFailed, st.Stage, st.Error)
	quorum := startVariant(t, g.c, "version-service", "sha-9a0b1c2", false)
	expiring := startVariant(t, g.c, "version-service", "v2.9.0", false)
	older := startVariant(t, g.c, "time-service", "sha-5e1f0a1", false)

	st = awaitStatus(t, older, 2*time.Minute, waitingIn("dev"))
	g.superseded = gateRun{ID: older, Env: "dev", Subject: st.PendingApproval.Subject, Closed: true}
	g.successor = startVariant(t, g.c, "time-service", "sha-5e1f0a2", true)
	st = awaitStatus(t, older, 2*time.Minute, ended)
	require.Equal(t, api.StageFailed, st.Stage)
	require.Equal(t, g.successor, st.SupersededBy)

	st = awaitStatus(t, quorum, 2*time.Minute, waitingIn("dev"))
	g.quorum = gateRun{ID: quorum, Env: "dev", Subject: st.PendingApproval.Subject}
	require.Equal(t, 2, st.PendingApproval.MinApprovals)
	code, out = starter(t, "approve", quorum, "--as", "bob")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "approval 1 of 2 recorded")

	st = awaitStatus(t, expiring, 2*time.Minute, ended)
	require.Contains(t, st.Error, "expired", "staging's 20 s approval ran out")
	g.expired = gateRun{ID: expiring, Env: "staging", Subject: st.Digest, Closed: true}

	st = awaitStatus(t, release, 4*time.Minute, func(st api.Status) bool { return waitingIn("prod")(st) || ended(st) })
	require.Equal(t, api.StageWaitingApproval, st.Stage, st.Error)
	g.prod = gateRun{ID: st.WorkflowID, Env: "prod", Subject: st.PendingApproval.Subject}
	require.True(t, st.PendingApproval.RequireSignatures)
	return g
}

// attackerKey is a fresh key nobody listed: its signer, and its private key file.
func attackerKey(t *testing.T) (ssh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "mallory")
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "mallory")
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(block), 0o600))
	signer, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	return signer, path
}

// signed is an approval of r as who, signed by by's key over r's statement as edit changes it
// (another run, subject or signing time); the payload claims r's pending subject either way.
func (g *gateRuns) signed(t *testing.T, r gateRun, who, by string, edit func(*signature.Statement)) api.ApproveInput {
	t.Helper()
	st := signature.Statement{WorkflowID: r.ID, Env: r.Env, Decision: "approve", Subject: r.Subject,
		SignedAt: time.Now().UTC().Truncate(time.Second)}
	if edit != nil {
		edit(&st)
	}
	sig, err := signature.Sign(st, g.keys[by])
	require.NoError(t, err)
	return api.ApproveInput{Who: who, Subject: r.Subject, Signature: sig, SignedAt: st.SignedAt}
}

// attack is one row: a decision that must be refused on every path.
type attack struct {
	name string
	run  gateRun
	// starter is the CLI's arguments after `approve ID`; nil where the CLI cannot express the
	// attack (it signs only a fresh statement for the run it names, at the current time).
	starter     []string
	starterEnv  map[string]string
	starterWant string
	// input is the payload crafted for `temporal workflow update execute` and `signal`.
	input func(t *testing.T) api.ApproveInput
	// want is the gate's reason on the update and signal paths of a run still waiting.
	want string
}

func attacks(g *gateRuns) []attack {
	keys := g.s.KeysDir()
	bobFor := func(r gateRun) func(t *testing.T) api.ApproveInput {
		return func(t *testing.T) api.ApproveInput { return g.signed(t, r, "bob", "bob", nil) }
	}
	return []attack{
		{name: "wrong key", run: g.prod,
			starter: []string{"--as", "bob", "--key", g.attackerKey}, starterWant: "the signature is not by a key of bob",
			input: func(t *testing.T) api.ApproveInput { return g.signed(t, g.prod, "bob", "mallory", nil) },
			want:  "the signature is not by a key of bob"},
		{name: "no signature where required", run: g.prod,
			// No key for bob anywhere: the CLI refuses before sending anything.
			starter: []string{"--as", "bob"}, starterEnv: map[string]string{"IDP_KEYS_DIR": g.noKeys, "IDP_SIGNING_KEY": "", "SSH_AUTH_SOCK": ""},
			starterWant: "image digest in prod needs a signed decision",
			input:       func(*testing.T) api.ApproveInput { return api.ApproveInput{Who: "bob", Subject: g.prod.Subject} },
			want:        "image digest in prod needs a signed decision"},
		{name: "another person's name signed with one's own key", run: g.prod,
			starter: []string{"--as", "bob", "--key", filepath.Join(keys, "carol")}, starterWant: "the signature is not by a key of bob",
			input: func(t *testing.T) api.ApproveInput { return g.signed(t, g.prod, "bob", "carol", nil) },
			want:  "the signature is not by a key of bob"},
		{name: "valid signature replayed from another workflow", run: g.prod,
			input: func(t *testing.T) api.ApproveInput {
				return g.signed(t, g.prod, "bob", "bob", func(st *signature.Statement) { st.WorkflowID = "promote-time-service-v1.2.3" })
			},
			want: "the signature by bob's key is for another statement"},
		{name: "valid signature for another subject", run: g.prod,
			starter: []string{"--as", "bob", "--subject", "sha256:" + strings.Repeat("0", 64)}, starterWant: "is not the pending image digest",
			input: func(t *testing.T) api.ApproveInput {
				return g.signed(t, g.prod, "bob", "bob", func(st *signature.Statement) { st.Subject = "sha256:" + strings.Repeat("0", 64) })
			},
			want: "the signature by bob's key is for another statement"},
		{name: "signature made 11 minutes ago", run: g.prod,
			input: func(t *testing.T) api.ApproveInput {
				return g.signed(t, g.prod, "bob", "bob", func(st *signature.Statement) { st.SignedAt = st.SignedAt.Add(-11 * time.Minute) })
			},
			want: "more than 10m0s from now"},
		{name: "requester approving under another person's name", run: g.prod,
			starter: []string{"--as", "carol", "--key", filepath.Join(keys, "alice")}, starterWant: "the signature is not by a key of carol",
			input: func(t *testing.T) api.ApproveInput { return g.signed(t, g.prod, "carol", "alice", nil) },
			want:  "the signature is not by a key of carol"},
		{name: "requester approving under another spelling of her name", run: g.prod,
			starter: []string{"--as", " Alice"}, starterWant: "four-eyes",
			input: func(t *testing.T) api.ApproveInput { return g.signed(t, g.prod, "ALICE", "alice", nil) },
			want:  "four-eyes"},
		{name: "quorum of two filled with one key under a second name", run: g.quorum,
			starter: []string{"--as", "carol", "--key", filepath.Join(keys, "bob")}, starterWant: "the signature is not by a key of carol",
			input: func(t *testing.T) api.ApproveInput { return g.signed(t, g.quorum, "carol", "bob", nil) },
			want:  "the signature is not by a key of carol"},
		{name: "quorum of two filled by one person twice", run: g.quorum,
			starter: []string{"--as", "bob"}, starterWant: "bob already approved",
			input: bobFor(g.quorum), want: "bob already approved"},
		{name: "approval after expiry", run: g.expired,
			starter: []string{"--as", "bob"}, starterWant: "is not waiting for an approval (stage failed: approval of image digest",
			input: bobFor(g.expired)},
		{name: "approval of a superseded run", run: g.superseded,
			starter: []string{"--as", "bob"}, starterWant: "is not waiting for an approval (stage failed: superseded by " + g.successor,
			input: bobFor(g.superseded)},
	}
}

// attackTable sends every attack through the CLI, as an update and as a signal; each is
// refused, and nothing of it is counted.
func attackTable(t *testing.T, g *gateRuns) {
	for _, a := range attacks(g) {
		t.Run(a.name, func(t *testing.T) {
			before := g.history(t, a.run.ID)
			if a.starter != nil {
				for k, v := range a.starterEnv {
					t.Setenv(k, v)
				}
				code, out := starter(t, append([]string{"approve", a.run.ID}, a.starter...)...)
				require.Equal(t, 2, code, out)
				require.Contains(t, out, a.starterWant)
				require.NotContains(t, strings.TrimSpace(out), "\n", "one line")
				t.Logf("starter: %s", strings.TrimSpace(out))
			}
			updateID := "attack-" + strings.ReplaceAll(a.name, " ", "-")
			in := a.input(t)
			code, out := g.temporal(t, "workflow", "update", "execute", "--workflow-id", a.run.ID, "--name", api.ApproveUpdate,
				"--update-id", updateID, "--input", jsonString(t, in))
			require.NotEqual(t, 0, code, "the update was accepted: %s", out)
			want := a.want
			if a.run.Closed {
				want = "workflow execution already completed"
			}
			require.Contains(t, out, want)
			t.Logf("temporal workflow update execute: %s", strings.TrimSpace(out))
			after := g.history(t, a.run.ID)
			require.Zero(t, updateEvents(after, updateID), "a refused update leaves no event")
			require.Equal(t, updateEvents(before, ""), updateEvents(after, ""), "no update of this row reached history")
			g.signalAttack(t, a, in)
		})
	}
	// What the gates counted after all that: bob's one approval of the quorum, nothing else.
	st := status(t, g.prod.ID)
	require.Empty(t, st.Approvals)
	require.Equal(t, 0, st.PendingApproval.Received)
	require.Zero(t, updateEvents(g.history(t, g.prod.ID), ""))
	st = status(t, g.quorum.ID)
	require.Len(t, st.Approvals, 1)
	require.Equal(t, "bob", st.Approvals[0].Who)
	require.True(t, st.Approvals[0].Verified)
	require.Equal(t, 1, st.PendingApproval.Received)
	require.Equal(t, api.StageWaitingApproval, st.Stage)

	t.Run("the quorum's run and the superseding one end when rejected", func(t *testing.T) {
		awaitStatus(t, g.successor, 2*time.Minute, waitingIn("dev"))
		for _, id := range []string{g.quorum.ID, g.successor} {
			code, out := starter(t, "reject", id, "--as", "carol", "--reason", "attack table done")
			require.Equal(t, 0, code, out)
			st := awaitStatus(t, id, time.Minute, ended)
			require.Equal(t, api.StageFailed, st.Stage)
			require.Contains(t, st.Error, "carol rejected")
		}
	})
}

// signalAttack sends the attack as a signal: a run still waiting records it in history,
// ignores it and says why in status; an ended run takes no signal at all.
func (g *gateRuns) signalAttack(t *testing.T, a attack, in api.ApproveInput) {
	t.Helper()
	before := g.history(t, a.run.ID)
	stBefore := status(t, a.run.ID)
	code, out := g.temporal(t, "workflow", "signal", "--workflow-id", a.run.ID, "--name", api.ApproveSignal, "--input", jsonString(t, in))
	if a.run.Closed {
		require.NotEqual(t, 0, code, out)
		require.Contains(t, out, "workflow execution already completed")
		require.Len(t, g.history(t, a.run.ID), len(before))
		return
	}
	require.Equal(t, 0, code, out)
	st := awaitStatus(t, a.run.ID, 30*time.Second, func(st api.Status) bool { return len(st.IgnoredSignals) > len(stBefore.IgnoredSignals) })
	ignored := st.IgnoredSignals[len(st.IgnoredSignals)-1]
	require.Equal(t, in.Who, ignored.Who)
	require.Contains(t, ignored.Reason, a.want)
	require.Len(t, st.IgnoredSignals, len(stBefore.IgnoredSignals)+1)
	require.Equal(t, stBefore.Approvals, st.Approvals, "no approval counted")
	require.Equal(t, stBefore.PendingApproval.Received, st.PendingApproval.Received)
	require.Equal(t, signals(before, api.ApproveSignal)+1, signals(g.history(t, a.run.ID), api.ApproveSignal), "the signal is in history")
}

// temporal runs Temporal's own CLI against the sandbox.
func (g *gateRuns) temporal(t *testing.T, args ...string) (int, string) {
	t.Helper()
	bin, _ := filepath.Abs("../bin/temporal")
	cmd := exec.Command(bin, append(args, "--address", g.s.TemporalAddress(), "--namespace", "default")...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out)
	}
	require.NoError(t, err)
	return 0, string(out)
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func (g *gateRuns) history(t *testing.T, id string) []*historypb.HistoryEvent {
	t.Helper()
	var evs []*historypb.HistoryEvent
	it := g.c.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		evs = append(evs, ev)
	}
	return evs
}

// updateEvents counts the update events (admitted, accepted, completed) of one update, or of
// every update when id is empty.
func updateEvents(evs []*historypb.HistoryEvent, id string) int {
	n := 0
	for _, ev := range evs {
		var got string
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED:
			got = ev.GetWorkflowExecutionUpdateAdmittedEventAttributes().GetRequest().GetMeta().GetUpdateId()
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			got = ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetMeta().GetUpdateId()
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
			got = ev.GetWorkflowExecutionUpdateCompletedEventAttributes().GetMeta().GetUpdateId()
		default:
			continue
		}
		if id == "" || got == id {
			n++
		}
	}
	return n
}

func signals(evs []*historypb.HistoryEvent, name string) int {
	n := 0
	for _, ev := range evs {
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED && ev.GetWorkflowExecutionSignaledEventAttributes().GetSignalName() == name {
			n++
		}
	}
	return n
}

// retagAttack: bob approves prod's digest, but the tag was pushed over meanwhile (ECR tags
// are mutable unless the repository is IMMUTABLE; the emulator does not enforce it either
// way). The run re-resolves the tag before the merge and stops; prod never pins, let alone
// runs, the other digest.
func retagAttack(t *testing.T, cfg *config.Config, g *gateRuns) {
	ctx := context.Background()
	id := g.prod.ID
	before := pinned(t, cfg, "prod", "time-service")
	out := sandboxCLI(t, g.s, "image", "push", "time-service", "v1.3.0", "--broken")
	moved := strings.Fields(out)[1]
	require.NotEqual(t, g.prod.Subject, moved)

	code, out := starter(t, "approve", id, "--as", "bob", "--comment", "approved what I reviewed")
	require.Equal(t, 0, code, "bob's approval of the digest he reviewed is valid: %s", out)
	code, out = starter(t, "watch", id)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "now points at "+moved)

	err := g.c.GetWorkflow(ctx, id, "").Get(ctx, nil)
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, api.ErrRetagged, app.Type(), app.Error())
	st := status(t, id)
	require.Equal(t, api.StageFailed, st.Stage)
	require.Contains(t, st.Error, "refusing to promote a moved tag into prod")
	require.Equal(t, "prod", st.Environments[1].Name)
	require.Equal(t, api.EnvFailed, st.Environments[1].State)
	require.Len(t, st.Approvals, 1, "the approval was recorded; the merge did not follow it")

	require.Equal(t, before, pinned(t, cfg, "prod", "time-service"), "prod pins what it did before")
	bare := strings.TrimPrefix(cfg.Repository.URL, "file://")
	log, err := exec.Command("git", "--git-dir", bare, "log", "-p", "--format=%H", "main", "--", "argocd/applications/prod/time-service.yaml").Output()
	require.NoError(t, err)
	require.NotContains(t, string(log), moved, "the moved digest never reached prod's manifest")
	require.NotContains(t, string(log), g.prod.Subject, "nor did the approved one: nothing was merged")
	_, sync, health := application(t, cfg, "prod", "time-service-prod")
	require.Equal(t, []string{"Synced", "Healthy"}, []string{sync, health})
	for _, img := range appImages(t, cfg, "prod", "time-service-prod") {
		require.NotContains(t, img, moved)
	}
}

func quietLogger() *quietLog { return &quietLog{} }

type quietLog struct{}

func (quietLog) Debug(string, ...interface{}) {}
func (quietLog) Info(string, ...interface{})  {}
func (quietLog) Warn(string, ...interface{})  {}
func (quietLog) Error(string, ...interface{}) {}

// appImages are the images an Argo CD Application reports running.
func appImages(t *testing.T, cfg *config.Config, env, name string) []string {
	t.Helper()
	app := getApp(t, cfg, env, name)
	images, _, err := unstructured.NestedStringSlice(app.Object, "status", "summary", "images")
	require.NoError(t, err)
	return images
}

// passedDev says the run's staging gate found its build Healthy in dev.
func passedDev(st api.Status) bool {
	for _, step := range st.Steps {
		if strings.Contains(step, "ran Healthy in dev") {
			return true
		}
	}
	return false
}
