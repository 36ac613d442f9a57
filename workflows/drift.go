package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/notify"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/activities/terraform"
	"github.com/alexpermiakov/idp/workflows/api"
)

// DriftCheck compares one env's live state with the platform repository at the branch's head:
// terraform's refresh-only and normal plans, the GitHub OIDC trust and the Argo CD install.
// It reports what differs (addresses and short descriptions, never values), sets IdpDrift on
// the run and tells the env's notify targets. It never changes anything: rerunning bootstrap
// shows the plan that puts things back, for approval.
func DriftCheck(ctx workflow.Context, in api.DriftInput) (api.Status, error) {
	r, err := newRun(ctx, api.KindDrift, in.Requester)
	if err != nil {
		return api.Status{}, err
	}
	// Runs started by the schedule or by hand carry these already; a run started any other
	// way is still listed.
	if err := workflow.UpsertTypedSearchAttributes(ctx, api.AttrKind.ValueSet(api.KindDrift),
		api.AttrEnvironment.ValueSet(in.Env)); err != nil {
		return api.Status{}, err
	}
	report, err := driftCheck(ctx, r, in)
	if err != nil {
		r.env(in.Env).State = api.EnvFailed
		return *r.status, r.failed(ctx, err)
	}
	report.Drifted = report.Any()
	r.status.Drift = &report
	if err := workflow.UpsertTypedSearchAttributes(ctx, api.AttrDrift.ValueSet(report.Drifted)); err != nil {
		workflow.GetLogger(ctx).Warn("upserting IdpDrift", "error", err)
	}
	r.env(in.Env).State = api.EnvDone
	if report.Drifted {
		r.step(ctx, "%s drifted: rerun `starter bootstrap --env %s` to see the plan that puts it back", in.Env, in.Env)
		r.notifyf(ctx, notify.Drift, in.Env, "%s", driftText(report))
	} else {
		r.step(ctx, "%s matches platform commit %s: no drift", in.Env, short(report.Commit))
	}
	r.setStage(ctx, api.StageDone)
	r.drain(ctx)
	return *r.status, nil
}

func driftCheck(ctx workflow.Context, r *run, in api.DriftInput) (api.DriftReport, error) {
	var (
		pa *platform.Activities
		aa *aws.Activities
		ta *terraform.Activities
		ar *argocd.Activities
	)
	rep := api.DriftReport{Env: in.Env}
	env := r.env(in.Env)
	env.State = api.EnvVerifying
	r.setStage(ctx, api.StagePreparing)
	var desc platform.DescribeOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("resolve "+in.Env+" and the platform commit", time.Minute)),
		pa.Describe, platform.DescribeInput{Env: in.Env}).Get(ctx, &desc); err != nil {
		return rep, err
	}
	rep.Commit, r.status.Commit, env.Commit = desc.Commit, desc.Commit, desc.Commit
	r.step(ctx, "platform repository at %s", desc.Commit)

	r.setStage(ctx, api.StagePlanning)
	var plan terraform.DriftOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:             "terraform plan -refresh-only and plan of infra/entry in " + in.Env,
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumAttempts: 3},
	}), ta.PlanDrift, terraform.DriftInput{Snapshot: desc.Snapshot, Commit: desc.Commit,
		RunID: workflow.GetInfo(ctx).WorkflowExecution.RunID}).Get(ctx, &plan); err != nil {
		return rep, err
	}
	rep.Terraform, rep.Changes = orEmpty(plan.Drifted), orEmpty(plan.Changes)
	r.step(ctx, "terraform plan -refresh-only: %s", found(rep.Terraform, "changed outside terraform"))
	r.step(ctx, "terraform plan: %s", found(rep.Changes, "would change"))

	r.setStage(ctx, api.StageVerifying)
	var oidc aws.OIDCDriftOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("check GitHub OIDC and "+desc.GitHubRole, 2*time.Minute)),
		aa.CheckGitHubOIDC, aws.OIDCInput{Snapshot: desc.Snapshot}).Get(ctx, &oidc); err != nil {
		return rep, err
	}
	rep.OIDC = orEmpty(oidc.Drift)
	r.step(ctx, "GitHub OIDC and role %s: %s", desc.GitHubRole, found(rep.OIDC, "differ"))

	var cd argocd.DriftOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("check Argo CD "+desc.ArgoCDVersion+" in "+in.Env, 5*time.Minute)),
		ar.CheckArgoCD, argocd.InstallInput{Snapshot: desc.Snapshot, Commit: desc.Commit}).Get(ctx, &cd); err != nil {
		return rep, err
	}
	rep.ArgoCD = orEmpty(cd.Drift)
	r.step(ctx, "Argo CD %s: %s", desc.ArgoCDVersion, found(rep.ArgoCD, "differ"))
	return rep, nil
}

// found says what a check found: "no drift", or how many and which.
func found(items []string, what string) string {
	if len(items) == 0 {
		return "no drift"
	}
	return fmt.Sprintf("%d %s: %s", len(items), what, strings.Join(limit(items, 10), "; "))
}

// driftText is the notification's one-line summary of a report.
func driftText(rep api.DriftReport) string {
	var parts []string
	for _, p := range []struct {
		what  string
		items []string
	}{{"changed outside terraform", rep.Terraform}, {"terraform would change", rep.Changes},
		{"GitHub OIDC", rep.OIDC}, {"Argo CD", rep.ArgoCD}} {
		if len(p.items) > 0 {
			parts = append(parts, p.what+": "+strings.Join(limit(p.items, 5), ", "))
		}
	}
	return fmt.Sprintf("%s drifted from platform commit %s (%s); rerun `starter bootstrap --env %s` to see the plan that puts it back",
		rep.Env, short(rep.Commit), strings.Join(parts, "; "), rep.Env)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
