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
}

// Progress is the heartbeat of plan and apply.
type Progress struct {
	Phase string `json:"phase"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
	// Last is the address terraform finished last.
	Last string `json:"last,omitempty"`
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

	stop := keepAlive(ctx, "applying")
	defer stop()
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	var diags []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		out.Done, diags = follow(ctx, pr, in.Total)
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

// follow reads terraform's JSON UI stream, heartbeats each finished resource action and
// collects error diagnostics, which the stream carries instead of stderr.
func follow(ctx context.Context, r io.Reader, total int) (done int, diags []string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		var msg struct {
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
			} `json:"hook"`
		}
		if json.Unmarshal(sc.Bytes(), &msg) != nil {
			continue
		}
		if d := msg.Diagnostic; msg.Type == "diagnostic" && d.Severity == "error" {
			diags = append(diags, strings.TrimSpace(strings.Join([]string{d.Address, d.Summary, d.Detail}, " ")))
			continue
		}
		if msg.Type != "apply_complete" {
			continue
		}
		done++
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, Progress{Phase: "applying", Done: done, Total: total, Last: msg.Hook.Resource.Addr})
		}
	}
	_, _ = io.Copy(io.Discard, r)
	return done, diags
}
