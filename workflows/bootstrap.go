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
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/workflows/api"
)

// maxPlanRounds bounds how often a stale plan is re-planned and re-approved in one run.
const maxPlanRounds = 3

// BootstrapEnvironment brings one environment's AWS account to the state infra/ describes:
// state backend, GitHub OIDC trust, terraform plan → approval → apply, ECR pull access.
// Rerunning it on a healthy environment changes nothing.
func BootstrapEnvironment(ctx workflow.Context, in api.BootstrapInput) (api.Status, error) {
	r, err := newRun(ctx, api.KindBootstrap, in.Requester)
	if err != nil {
		return api.Status{}, err
	}
	g, err := newGate(ctx, r)
	if err != nil {
		return api.Status{}, err
	}
	// A preview's env is <base>-pr-<N> (EnvName); it is told to its base env's notify targets.
	name := in.EnvName()
	if err := bootstrap(ctx, r, g, in); err != nil {
		r.env(name).State = api.EnvFailed
		err = r.failed(ctx, err)
		if !toldAlready(err) {
			r.notifyf(ctx, notify.BootstrapFailed, in.Env, "bootstrap of %s failed: %s", name, fail.Message(err))
		}
		destroyFailedPreview(ctx, r, in, err)
		r.drain(ctx)
		return *r.status, err
	}
	r.env(name).State = api.EnvDone
	r.setStage(ctx, api.StageDone)
	r.notifyf(ctx, notify.BootstrapDone, in.Env, "%s is bootstrapped at platform commit %s", name, short(r.status.Commit))
	r.drain(ctx)
	// Only preview runs (PR above 0, which no run recorded before previews had) go on.
	if in.PR > 0 {
		return previewLife(ctx, r, in)
	}
	return *r.status, nil
}

func bootstrap(ctx workflow.Context, r *run, g *gate, in api.BootstrapInput) error {
	var (
		pa *platform.Activities
		aa *aws.Activities
	)
	name := in.EnvName()
	env := r.env(name)
	env.State = api.EnvBootstrapping
	r.setStage(ctx, api.StagePreparing)
	if err := checkRequest(ctx, r, signedRequest{Requester: in.Requester, Signature: in.Signature,
		Statement: in.Statement(r.status.WorkflowID)}); err != nil {
		return err
	}

	// Configuration problems fail fast: no retries for what only a person can fix.
	var desc platform.DescribeOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("resolve "+name+" and the platform commit", time.Minute)),
		pa.Describe, platform.DescribeInput{Env: in.Env, PR: in.PR, Branch: in.Branch}).Get(ctx, &desc); err != nil {
		return err
	}
	r.notePreview(ctx, in, desc)
	r.status.Commit = desc.Commit
	env.Commit = desc.Commit
	r.step(ctx, "platform repository at %s", desc.Commit)
	// A frozen env waits here, before anything in its account changes.
	if _, err := r.door(ctx, in.Env, ""); err != nil {
		return err
	}
	if in.PR > 0 {
		r.dropEnv(in.Env) // a preview waits at its base's door; its status shows the preview only
	}

	var backend aws.StateBackendOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("state bucket "+desc.StateBucket, 2*time.Minute)),
		aa.EnsureStateBackend, aws.StateBackendInput{Snapshot: desc.Snapshot}).Get(ctx, &backend); err != nil {
		return err
	}
	r.step(ctx, "state backend %s: %s", backend.Bucket, changed(backend.Created, backend.Changed))

	var oidc aws.OIDCOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("GitHub OIDC and "+desc.GitHubRole, 2*time.Minute)),
		aa.EnsureGitHubOIDC, aws.OIDCInput{Snapshot: desc.Snapshot}).Get(ctx, &oidc); err != nil {
		return err
	}
	r.step(ctx, "GitHub OIDC provider and role %s: %s", oidc.RoleARN, changed(oidc.Created, oidc.Restored))

	if err := planAndApply(ctx, r, g, in, desc); err != nil {
		return err
	}
	// Runs recorded before Argo CD was part of bootstrap replay without it.
	if workflow.GetVersion(ctx, "bootstrap-argocd", workflow.DefaultVersion, 1) >= 1 {
		if err := installArgoCD(ctx, r, in, desc); err != nil {
			return err
		}
	}

	return grantPull(ctx, r, in, desc)
}

// grantPull lets the env's account pull from the tooling ECR. A preview lives in its base's
// account, which its base's bootstrap granted: a grant of its own would only leave a
// statement per preview in the repository policies.
func grantPull(ctx workflow.Context, r *run, in api.BootstrapInput, desc platform.DescribeOutput) error {
	var aa *aws.Activities
	switch {
	case in.PR > 0:
		r.step(ctx, "ECR pull for account %s: the preview uses %s's grant", desc.AccountID, in.Env)
	case desc.GrantPull:
		var grant aws.GrantOutput
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("ECR pull for "+in.Env, 2*time.Minute)),
			aa.GrantECRPull, aws.GrantInput{Snapshot: desc.Snapshot}).Get(ctx, &grant); err != nil {
			return err
		}
		r.step(ctx, "ECR pull for account %s: %s", desc.AccountID, changed(false, grant.Changed))
	default:
		r.step(ctx, "ECR pull grant switched off in idp.yaml (tooling.grantPull: false)")
	}
	return nil
}

// planAndApply plans, gets the plan approved when policy asks, and applies exactly that plan.
// A plan that went stale before its apply is planned and approved again, never applied blind.
func planAndApply(ctx workflow.Context, r *run, g *gate, in api.BootstrapInput, desc platform.DescribeOutput) error {
	var ta *terraform.Activities
	planCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:             "terraform plan of infra/entry in " + in.EnvName(),
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumAttempts: 3},
	})
	applyCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:             "terraform apply in " + in.EnvName(),
		StartToCloseTimeout: 90 * time.Minute,
		// terraform heartbeats every 10 s: a worker killed mid-apply is noticed, and its
		// apply retried on another, after 30 s.
		HeartbeatTimeout: 30 * time.Second,
		RetryPolicy:      &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumAttempts: 3},
	})
	// imports are resources a killed apply created, which the next plan imports.
	var imports []terraform.Created
	for round := 1; ; round++ {
		r.setStage(ctx, api.StagePlanning)
		var plan terraform.PlanOutput
		if err := workflow.ExecuteActivity(planCtx, ta.Plan, terraform.PlanInput{Snapshot: desc.Snapshot, Commit: desc.Commit,
			RunID: workflow.GetInfo(ctx).WorkflowExecution.RunID, Imports: imports}).Get(ctx, &plan); err != nil {
			return err
		}
		summary := api.PlanSummary(plan.Summary)
		r.status.Plan = &summary
		if !plan.HasChanges() {
			r.step(ctx, "terraform plan %s: no changes", short(plan.SHA256))
			return nil
		}
		r.step(ctx, "terraform plan %s: %s", short(plan.SHA256), planCounts(plan))

		if pol := desc.PlanApproval; pol.Required {
			if err := g.wait(ctx, gateRequest{Env: in.Env, Subject: plan.SHA256, What: "terraform plan", Policy: pol}); err != nil {
				return err
			}
			r.step(ctx, "plan %s approved", short(plan.SHA256))
		}

		r.setStage(ctx, api.StageApplying)
		var applied terraform.ApplyOutput
		err := workflow.ExecuteActivity(applyCtx, ta.Apply, terraform.ApplyInput{Snapshot: desc.Snapshot, Commit: desc.Commit,
			PlanKey: plan.Key, SHA256: plan.SHA256, Total: plan.Add + plan.Change + plan.Destroy}).Get(ctx, &applied)
		if fail.Is(err, fail.StalePlan) && round < maxPlanRounds {
			if rec := terraform.RecoveryOf(err); rec.ReleasedLock != "" || len(rec.Imports) > 0 {
				imports = rec.Imports
				r.step(ctx, "plan %s went stale before apply (%s): planning again", short(plan.SHA256), fail.Message(err))
				continue
			}
			r.step(ctx, "plan %s went stale before apply: planning again", short(plan.SHA256))
			continue
		}
		if err != nil {
			return err
		}
		if applied.Recovered != "" {
			r.step(ctx, "terraform apply: %s", applied.Recovered)
		}
		r.step(ctx, "terraform apply: %d of %d resource actions done", applied.Done, applied.Total)
		return nil
	}
}

// installArgoCD installs Argo CD with the env's app-of-apps and waits until Argo CD reports
// every Application Synced and Healthy. The wait polls inside the activity, not with timers.
func installArgoCD(ctx workflow.Context, r *run, in api.BootstrapInput, desc platform.DescribeOutput) error {
	var ar *argocd.Activities
	r.setStage(ctx, api.StageDeploying)
	var inst argocd.InstallOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("install Argo CD "+desc.ArgoCDVersion+" in "+in.EnvName(), 10*time.Minute)),
		ar.InstallArgoCD, argocd.InstallInput{Snapshot: desc.Snapshot, Commit: desc.Commit}).Get(ctx, &inst); err != nil {
		return err
	}
	r.step(ctx, "Argo CD %s in %s: %s", inst.Version, in.EnvName(), installSummary(inst))
	if inst.SharedWith != "" {
		r.step(ctx, "the cluster is %s's too (a preview in its base's cluster, as in the sandbox): no app-of-apps of its own, which would claim %s's Applications; verified by %s's",
			inst.SharedWith, inst.SharedWith, inst.SharedWith)
	}

	r.setStage(ctx, api.StageVerifying)
	opts := activityOptions("wait until Argo CD in "+in.EnvName()+" is Synced and Healthy", desc.ArgoCDTimeout+5*time.Minute)
	opts.HeartbeatTimeout = 2 * time.Minute
	var healthy argocd.WaitOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), ar.WaitArgoCD,
		argocd.WaitInput{Snapshot: desc.Snapshot}).Get(ctx, &healthy); err != nil {
		return err
	}
	names := make([]string, 0, len(healthy.Apps))
	for _, a := range healthy.Apps {
		names = append(names, a.Name)
	}
	r.step(ctx, "Argo CD in %s: %d applications Synced and Healthy (%s)", in.EnvName(), len(names), strings.Join(names, ", "))
	return nil
}

// installSummary says what InstallArgoCD changed over all its attempts: "64 objects: 60
// created, 2 updated, 2 unchanged (resumed after 23 applies of an interrupted attempt)".
func installSummary(inst argocd.InstallOutput) string {
	if inst.Created == nil && inst.Updated == nil && len(inst.Changed) > 0 {
		return fmt.Sprintf("%d objects applied, %s", inst.Objects, changed(false, inst.Changed)) // recorded before the counts
	}
	if len(inst.Created) == 0 && len(inst.Updated) == 0 && inst.Resumed == 0 {
		return fmt.Sprintf("%d objects applied, no changes", inst.Objects) // a rerun on an installed env
	}
	s := fmt.Sprintf("%d objects: %d created, %d updated, %d unchanged", inst.Objects, len(inst.Created), len(inst.Updated),
		max(inst.Objects-len(inst.Created)-len(inst.Updated), 0))
	if inst.Resumed > 0 {
		s += fmt.Sprintf(" (resumed after %d applies of an interrupted attempt)", inst.Resumed)
	}
	return s
}

// planCounts says what a plan does the way terraform does; imports only when there are any,
// as before a killed apply needed them.
func planCounts(p terraform.PlanOutput) string {
	counts := fmt.Sprintf("%d to add, %d to change, %d to destroy", p.Add, p.Change, p.Destroy)
	if p.Import > 0 {
		counts = fmt.Sprintf("%d to import, %s", p.Import, counts)
	}
	return counts
}

func changed(created bool, changes []string) string {
	switch {
	case created:
		return "created"
	case len(changes) > 5:
		return fmt.Sprintf("converged (%d changed: %s, …)", len(changes), strings.Join(changes[:3], ", "))
	case len(changes) > 0:
		return fmt.Sprintf("converged (%s)", strings.Join(changes, ", "))
	default:
		return "no changes"
	}
}
