package terraform

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	"go.temporal.io/sdk/activity"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/metrics"
)

// ApplyInput asks to apply one saved, approved plan.
type ApplyInput struct {
	Snapshot config.Snapshot `json:"snapshot"`
	Commit   string          `json:"commit"`
	PlanKey  string          `json:"planKey"`
	// SHA256 is the approved plan's digest; a plan file with another digest is refused.
	SHA256 string `json:"sha256"`
	// Total is the number of resource actions in the plan, for progress.
	Total int `json:"total"`
}

// ApplyOutput reports what the apply did and the root module's non-sensitive outputs.
type ApplyOutput struct {
	Done    int               `json:"done"`
	Total   int               `json:"total"`
	Outputs map[string]string `json:"outputs,omitempty"`
	// Recovered says what this attempt cleaned up after an earlier one that died (a state
	// lock released); empty when there was nothing.
	Recovered string `json:"recovered,omitempty"`
}

// Progress is the heartbeat of plan and apply.
type Progress struct {
	Phase string `json:"phase"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
	// Last is the address terraform finished last.
	Last string `json:"last,omitempty"`
	// LockID is the state lock terraform holds for this apply, and Created what it created
	// so far: what a retry needs after this attempt died (see recover.go).
	LockID  string    `json:"lockId,omitempty"`
	Created []Created `json:"created,omitempty"`
	// Creating are resources terraform started creating and has not reported done.
	Creating []string `json:"creating,omitempty"`
}

// Apply applies exactly the approved plan file: it verifies the digest, then runs terraform
// apply on the file, heartbeating resources done out of total. A plan that went stale fails
// with fail.StalePlan so the workflow plans and asks again.
func (a *Activities) Apply(ctx context.Context, in ApplyInput) (ApplyOutput, error) {
	out := ApplyOutput{Total: in.Total}
	ws, err := a.open(ctx, in.Snapshot, in.Commit)
	if err != nil {
		return out, err
	}
	b, err := a.plans.Get(ctx, ws.env, in.PlanKey)
	if errors.Is(err, ErrPlanNotFound) {
		return out, fail.Wrap(fail.NotFound, err, "plan file %s is gone", in.PlanKey)
	}
	if err != nil {
		return out, err
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != in.SHA256 {
		return out, fail.New(fail.PlanMismatch, "plan file %s has sha256 %s, not the approved %s: refusing to apply", in.PlanKey, got, in.SHA256)
	}
	planPath := filepath.Join(ws.dir, "approved.tfplan")
	if err := os.WriteFile(planPath, b, 0o600); err != nil {
		return out, err
	}
	if prev, ok := previousAttempt(ctx); ok {
		if out.Recovered, err = a.recoverFrom(ctx, ws, prev, activity.GetInfo(ctx).Attempt); err != nil {
			return out, err
		}
	}

	tr := &tracker{p: Progress{Phase: "applying", Total: in.Total}, lockID: func() string { return a.heldLock(ctx, ws) }}
	stop := keepAliveWith(ctx, tr.progress)
	defer stop()
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	var diags []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		out.Done, diags = tr.follow(ctx, pr)
	}()
	started := time.Now()
	err = ws.tf.ApplyJSON(ctx, pw, tfexec.DirOrPlan(planPath))
	ws.tf.SetStdout(io.Discard) // ApplyJSON leaves its writer in place for later commands
	_ = pw.Close()
	wg.Wait()
	metrics.Apply(ctx, in.Snapshot.Env.Name, applyOutcome(err), started)
	if err != nil {
		if len(diags) > 0 {
			err = fmt.Errorf("%w: %s", err, strings.Join(diags, "; "))
		}
		return out, classify(err, "terraform apply in %s (%d of %d done)", in.Snapshot.Env.Name, out.Done, in.Total)
	}
	outputs, err := ws.tf.Output(ctx)
	if err != nil {
		return out, classify(err, "reading outputs in %s", in.Snapshot.Env.Name)
	}
	out.Outputs = plainOutputs(outputs)
	return out, nil
}

func applyOutcome(err error) string {
	if err != nil {
		return metrics.Failed
	}
	return metrics.Succeeded
}

// plainOutputs keeps the non-sensitive outputs, strings as they are and other values as JSON.
func plainOutputs(outputs map[string]tfexec.OutputMeta) map[string]string {
	plain := map[string]string{}
	for k, v := range outputs {
		if v.Sensitive {
			continue
		}
		var s string
		if json.Unmarshal(v.Value, &s) != nil {
			s = string(v.Value)
		}
		plain[k] = s
	}
	return plain
}

// tracker follows one terraform apply -json stream.
type tracker struct {
	// lockID reads the ID of the state lock terraform holds ("" when it cannot be read).
	lockID  func() string
	mu      sync.Mutex
	p       Progress
	started bool
}

// progress is a copy of the progress so far.
func (tr *tracker) progress() Progress {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	p := tr.p
	p.Created = append([]Created(nil), tr.p.Created...)
	p.Creating = append([]string(nil), tr.p.Creating...)
	return p
}

// follow reads terraform's JSON UI stream, heartbeats each finished resource action and
// collects error diagnostics, which the stream carries instead of stderr. When terraform
// starts its first resource action it holds the state lock: the lock's ID goes into the
// heartbeat then, and each created resource's ID after it.
func (tr *tracker) follow(ctx context.Context, r io.Reader) (done int, diags []string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		var msg applyMessage
		if json.Unmarshal(sc.Bytes(), &msg) != nil {
			continue
		}
		if d := msg.Diagnostic; msg.Type == "diagnostic" && d.Severity == "error" {
			diags = append(diags, strings.TrimSpace(strings.Join([]string{d.Address, d.Summary, d.Detail}, " ")))
			continue
		}
		if !tr.note(msg) {
			continue
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, tr.progress())
		}
	}
	_, _ = io.Copy(io.Discard, r)
	return tr.progress().Done, diags
}

// note takes msg into the progress and reports whether the progress changed.
func (tr *tracker) note(msg applyMessage) bool {
	switch msg.Type {
	case "apply_start":
		if msg.Hook.Action == "create" {
			tr.mu.Lock()
			tr.p.Creating = append(tr.p.Creating, msg.Hook.Resource.Addr)
			tr.mu.Unlock()
		}
		if tr.started {
			return false
		}
		tr.started = true
		if tr.lockID == nil {
			return false
		}
		id := tr.lockID()
		tr.mu.Lock()
		tr.p.LockID = id
		tr.mu.Unlock()
		return id != ""
	case "apply_complete":
		tr.mu.Lock()
		defer tr.mu.Unlock()
		tr.p.Done++
		tr.p.Last = msg.Hook.Resource.Addr
		tr.p.Creating = slices.DeleteFunc(tr.p.Creating, func(a string) bool { return a == msg.Hook.Resource.Addr })
		if msg.Hook.Action == "create" && msg.Hook.IDValue != "" {
			tr.p.Created = append(tr.p.Created, Created{Addr: msg.Hook.Resource.Addr, ID: msg.Hook.IDValue})
		}
		return true
	}
	return false
}

// applyMessage is the part of a terraform -json UI message follow reads.
type applyMessage struct {
	Type       string `json:"type"`
	Diagnostic struct {
		Severity string `json:"severity"`
		Summary  string `json:"summary"`
		Detail   string `json:"detail"`
		Address  string `json:"address"`
	} `json:"diagnostic"`
	Hook struct {
		Resource struct {
			Addr string `json:"addr"`
		} `json:"resource"`
		Action  string `json:"action"`
		IDValue string `json:"id_value"`
	} `json:"hook"`
}

// heldLock is the ID of the env's state lock now, or "" when it cannot be read.
func (a *Activities) heldLock(ctx context.Context, ws *workspace) string {
	l, err := a.readLock(ctx, ws)
	if err != nil || l == nil {
		if activity.IsActivity(ctx) {
			activity.GetLogger(ctx).Warn("cannot read the state lock terraform holds", "error", err)
		}
		return ""
	}
	return l.ID
}
