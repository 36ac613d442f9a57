package terraform

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
	"go.temporal.io/sdk/activity"

	"github.com/alexpermiakov/idp/internal/config"
)

// planFile is the name terraform plan writes the plan file under, in the working directory.
const planFile = "idp.tfplan"

// PlanInput asks for a plan of infra/entry in one env at one commit.
type PlanInput struct {
	Snapshot config.Snapshot `json:"snapshot"`
	Commit   string          `json:"commit"`
	// RunID keeps plan files of different runs apart.
	RunID string `json:"runId"`
	// Destroy plans the removal of everything the env's state holds (terraform plan -destroy).
	Destroy bool `json:"destroy,omitempty"`
	// Imports are resources a killed apply created: the plan imports them (see recover.go).
	Imports []Created `json:"imports,omitempty"`
}

// PlanOutput summarizes a saved plan and says where it is kept.
type PlanOutput struct {
	// Key is the plan file's object key in the env's state bucket.
	Key string `json:"key"`
	// Summary is embedded so its fields sit at the top level of the JSON, as they always have.
	Summary
}

// Summary is what a plan would do; the bootstrap's status document shows it as it is.
type Summary struct {
	// SHA256 is the plan file's digest: what people approve and what apply verifies.
	SHA256  string `json:"sha256"`
	Add     int    `json:"add"`
	Change  int    `json:"change"`
	Destroy int    `json:"destroy"`
	// Import counts resources the plan takes into the state as they are (see recover.go).
	Import   int      `json:"import,omitempty"`
	Adds     []string `json:"adds,omitempty"`
	Changes  []string `json:"changes,omitempty"`
	Destroys []string `json:"destroys,omitempty"`
	Imports  []string `json:"imports,omitempty"`
}

// HasChanges reports whether applying the plan would do anything.
func (p PlanOutput) HasChanges() bool { return p.Add+p.Change+p.Destroy+p.Import > 0 }

// Plan runs terraform plan of infra/entry for the env at the commit, keeps the plan file in
// the env's state bucket and returns its digest and a summary of what it would do.
func (a *Activities) Plan(ctx context.Context, in PlanInput) (PlanOutput, error) {
	stop := keepAlive(ctx, "planning")
	defer stop()
	ws, err := a.open(ctx, in.Snapshot, in.Commit)
	if err != nil {
		return PlanOutput{}, err
	}
	planPath := filepath.Join(ws.dir, planFile)
	var opts []tfexec.PlanOption
	// A preview uses its base env's variables (BaseName); var.environment is its own name.
	if varFile := filepath.Join(ws.dir, "env", ws.env.BaseName()+".tfvars"); fileExists(varFile) {
		opts = append(opts, tfexec.VarFile(varFile))
	}
	if in.Destroy {
		opts = append(opts, tfexec.Destroy(true))
	}
	if len(in.Imports) > 0 {
		if err := os.WriteFile(filepath.Join(ws.dir, importFile), []byte(importBlocks(in.Imports)), 0o644); err != nil {
			return PlanOutput{}, err
		}
	}
	changed, err := ws.tf.Plan(ctx, append(opts, tfexec.Out(planPath))...)
	if err != nil {
		return PlanOutput{}, classify(err, "terraform plan in %s", in.Snapshot.Env.Name)
	}
	var out PlanOutput
	// terraform show -json loads every provider's schema (about 4 s for hashicorp/aws): only
	// a plan that changes something has anything to count.
	if changed {
		plan, err := ws.tf.ShowPlanFile(ctx, planPath)
		if err != nil {
			return PlanOutput{}, classify(err, "reading the plan in %s", in.Snapshot.Env.Name)
		}
		out = summarize(plan)
	}
	b, err := os.ReadFile(planPath)
	if err != nil {
		return PlanOutput{}, err
	}
	sum := sha256.Sum256(b)
	out.SHA256 = hex.EncodeToString(sum[:])
	out.Key = fmt.Sprintf("idp/plans/%s/%s.tfplan", in.Snapshot.Env.Name, out.SHA256)
	if err := a.plans.Put(ctx, ws.env, out.Key, b); err != nil {
		return PlanOutput{}, err
	}
	return out, nil
}

// summarize counts the plan's actions the way terraform prints them: a replacement is one
// add and one destroy.
func summarize(p *tfjson.Plan) PlanOutput {
	var out PlanOutput
	for _, rc := range p.ResourceChanges {
		if rc.Change == nil || rc.Mode == tfjson.DataResourceMode {
			continue
		}
		acts := rc.Change.Actions
		if rc.Change.Importing != nil {
			out.Import++
			out.Imports = append(out.Imports, rc.Address)
		}
		switch {
		case acts.Replace():
			out.Add++
			out.Destroy++
			out.Adds = append(out.Adds, rc.Address)
			out.Destroys = append(out.Destroys, rc.Address)
		case acts.Create():
			out.Add++
			out.Adds = append(out.Adds, rc.Address)
		case acts.Update():
			out.Change++
			out.Changes = append(out.Changes, rc.Address)
		case acts.Delete():
			out.Destroy++
			out.Destroys = append(out.Destroys, rc.Address)
		}
	}
	slices.Sort(out.Adds)
	slices.Sort(out.Changes)
	slices.Sort(out.Destroys)
	slices.Sort(out.Imports)
	return out
}

// keepAlive heartbeats while a long terraform command runs, so a dead worker is noticed and a
// cancellation reaches the command (terraform-exec interrupts it with SIGINT).
func keepAlive(ctx context.Context, what string) func() {
	return keepAliveWith(ctx, func() Progress { return Progress{Phase: what} })
}

// keepAliveWith is keepAlive heartbeating current's progress, so a beat never drops what an
// earlier one recorded.
func keepAliveWith(ctx context.Context, current func() Progress) func() {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx, current())
			}
		}
	}()
	return func() { close(done) }
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
