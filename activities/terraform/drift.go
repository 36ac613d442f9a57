package terraform

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/alexpermiakov/idp/internal/config"
)

// DriftInput asks whether an env's live resources still match infra/entry at a commit.
type DriftInput struct {
	Snapshot config.Snapshot `json:"snapshot"`
	Commit   string          `json:"commit"`
	// RunID keeps the working directories of concurrent checks apart.
	RunID string `json:"runId"`
}

// DriftOutput lists resource addresses only: a plan's values may hold secrets, and this
// output goes into the run's history.
type DriftOutput struct {
	// Drifted are the resources `terraform plan -refresh-only` found changed outside
	// terraform (an edited tag, a deleted policy).
	Drifted []string `json:"drifted"`
	// Changes are the resources a normal plan would create, update, replace or delete.
	Changes []string `json:"changes"`
}

// PlanDrift runs `terraform plan -refresh-only -detailed-exitcode` and a normal plan of
// infra/entry in the env at the commit, and returns the addresses each finds. It changes
// nothing: no apply, no state written, no plan file kept. Neither plan takes the state lock,
// so a check never makes a bootstrap wait or fail; a plan made while an apply runs may report
// what that apply is changing, which the next check clears.
func (a *Activities) PlanDrift(ctx context.Context, in DriftInput) (DriftOutput, error) {
	stop := keepAlive(ctx, "checking drift")
	defer stop()
	rel := filepath.Join("drift", in.Snapshot.Env.Name, in.RunID)
	ws, err := a.openIn(ctx, in.Snapshot, in.Commit, rel)
	if err != nil {
		return DriftOutput{}, err
	}
	// The plan files hold values; they never leave this directory, and it goes when done.
	defer os.RemoveAll(filepath.Join(a.settings.Dir(), rel))
	var opts []tfexec.PlanOption
	if varFile := filepath.Join(ws.dir, "env", ws.env.Name+".tfvars"); fileExists(varFile) {
		opts = append(opts, tfexec.VarFile(varFile))
	}
	opts = append(opts, tfexec.Lock(false))

	refreshPath := filepath.Join(ws.dir, "refresh.tfplan")
	drifted, err := ws.tf.Plan(ctx, append(slices.Clone(opts), tfexec.RefreshOnly(true), tfexec.Out(refreshPath))...)
	if err != nil {
		return DriftOutput{}, classify(err, "terraform plan -refresh-only in %s", in.Snapshot.Env.Name)
	}
	var out DriftOutput
	if drifted {
		plan, err := ws.tf.ShowPlanFile(ctx, refreshPath)
		if err != nil {
			return DriftOutput{}, classify(err, "reading the refresh-only plan in %s", in.Snapshot.Env.Name)
		}
		out.Drifted = driftAddresses(plan)
	}

	planPath := filepath.Join(ws.dir, planFile)
	changes, err := ws.tf.Plan(ctx, append(opts, tfexec.Out(planPath))...)
	if err != nil {
		return DriftOutput{}, classify(err, "terraform plan in %s", in.Snapshot.Env.Name)
	}
	if changes {
		plan, err := ws.tf.ShowPlanFile(ctx, planPath)
		if err != nil {
			return DriftOutput{}, classify(err, "reading the plan in %s", in.Snapshot.Env.Name)
		}
		s := summarize(plan)
		out.Changes = uniqueSorted(s.Adds, s.Changes, s.Destroys)
	}
	return out, nil
}

// driftAddresses are the managed resources a refresh found changed or deleted outside
// terraform. An attribute the state held empty (null, "", [] or {}) and the refresh filled in
// is not drift: it is the state catching up with what other resources did (a role's
// inline_policy listing its aws_iam_role_policy resources, a route table's routes, a default
// route table's ID), which every first refresh after an apply reports.
func driftAddresses(p *tfjson.Plan) []string {
	var out []string
	for _, rc := range p.ResourceDrift {
		if rc.Change == nil || rc.Mode == tfjson.DataResourceMode || rc.Change.Actions.NoOp() {
			continue
		}
		if rc.Change.Actions.Update() && caughtUp(rc.Change.Before, rc.Change.After) {
			continue
		}
		out = append(out, rc.Address)
	}
	return uniqueSorted(out)
}

// caughtUp reports whether after differs from before only where before was empty.
func caughtUp(before, after any) bool {
	if empty(before) {
		return true
	}
	switch b := before.(type) {
	case map[string]any:
		a, ok := after.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range b {
			if !caughtUp(v, a[k]) {
				return false
			}
		}
		return true // keys only after has were empty before
	case []any:
		a, ok := after.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range b {
			if !caughtUp(b[i], a[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(before, after)
	}
}

// empty is terraform's null, "", [] or {}.
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func uniqueSorted(lists ...[]string) []string {
	out := []string{}
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
