package terraform

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/hashicorp/terraform-exec/tfexec"
	"go.temporal.io/sdk/activity"

	"github.com/alexpermiakov/idp/internal/fail"
)

// ApplyInput asks to apply one saved, approved plan.
type ApplyInput struct {
	Env     string `json:"env"`
	Commit  string `json:"commit"`
	PlanKey string `json:"planKey"`
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
	ws, err := a.open(ctx, in.Env, in.Commit)
	if err != nil {
		return out, err
	}
	b, err := getObject(ctx, ws.env, in.PlanKey)
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
	wg.Add(1)
	go func() {
		defer wg.Done()
		out.Done = follow(ctx, pr, in.Total)
	}()
	err = ws.tf.ApplyJSON(ctx, pw, tfexec.DirOrPlan(planPath))
	_ = pw.Close()
	wg.Wait()
	if err != nil {
		return out, classify(err, "terraform apply in %s", in.Env)
	}
	outputs, err := ws.tf.Output(ctx)
	if err != nil {
		return out, classify(err, "reading outputs in %s", in.Env)
	}
	out.Outputs = map[string]string{}
	for k, v := range outputs {
		if v.Sensitive {
			continue
		}
		var s string
		if json.Unmarshal(v.Value, &s) != nil {
			s = string(v.Value)
		}
		out.Outputs[k] = s
	}
	return out, nil
}

// follow reads terraform's JSON UI stream and heartbeats each finished resource action.
func follow(ctx context.Context, r io.Reader, total int) int {
	done := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		var msg struct {
			Type string `json:"type"`
			Hook struct {
				Resource struct {
					Addr string `json:"addr"`
				} `json:"resource"`
			} `json:"hook"`
		}
		if json.Unmarshal(sc.Bytes(), &msg) != nil || msg.Type != "apply_complete" {
			continue
		}
		done++
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, Progress{Phase: "applying", Done: done, Total: total, Last: msg.Hook.Resource.Addr})
		}
	}
	_, _ = io.Copy(io.Discard, r)
	return done
}
