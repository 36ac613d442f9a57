package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/notify"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/activities/terraform"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/workflows/api"
)

// DestroyEnvironment tears one environment down, the mirror of BootstrapEnvironment: it
// refuses while promotions or a bootstrap run into the env, plans the destruction (terraform
// plan -destroy), has the plan approved where the env's bootstrap policy asks, removes the
// env's Argo CD Applications (their workloads first) and Argo CD, applies exactly that plan,
// removes the env's state (and, asked and approved, the state bucket), revokes the
// cross-account ECR pull and deletes the GitHub role when no other env of the account uses
// it. Every step takes already-gone for done, so a rerun, or a run after a crash, finishes
// the job and says what it found gone.
func DestroyEnvironment(ctx workflow.Context, in api.DestroyInput) (api.Status, error) {
	r, err := newRun(ctx, api.KindDestroy, in.Requester)
	if err != nil {
		return api.Status{}, err
	}
	g, err := newGate(ctx, r)
	if err != nil {
		return api.Status{}, err
	}
	name := envName(in)
	// Runs recorded before destroys waited at a frozen env's door and told people replay
	// without either.
	doorAndTell := workflow.GetVersion(ctx, "destroy-door-notify", workflow.DefaultVersion, 1) >= 1
	if err := destroy(ctx, r, g, in, doorAndTell); err != nil {
		r.env(name).State = api.EnvFailed
		err = r.failed(ctx, err)
		if doorAndTell && !toldAlready(err) {
			r.notifyf(ctx, notify.DestroyFailed, in.Env, "destroy of %s failed: %s", name, fail.Message(err))
		}
		r.drain(ctx)
		return *r.status, err
	}
	r.env(name).State = api.EnvDestroyed
	r.setStage(ctx, api.StageDone)
	if doorAndTell {
		r.notifyf(ctx, notify.Destroyed, in.Env, "%s is destroyed (requested by %s)", name, in.Requester)
	}
	r.drain(ctx)
	return *r.status, nil
}

// envName is how the run's status names the env: "dev", or "dev pr-7" for a preview.
func envName(in api.DestroyInput) string {
	if in.PR > 0 {
		return fmt.Sprintf("%s pr-%d", in.Env, in.PR)
	}
	return in.Env
}

func destroy(ctx workflow.Context, r *run, g *gate, in api.DestroyInput, door bool) error {
	var pa *platform.Activities
	env := r.env(envName(in))
	env.State = api.EnvDestroying
	r.setStage(ctx, api.StagePreparing)
	if err := checkRequest(ctx, r, signedRequest{Requester: in.Requester, Signature: in.Signature,
		Statement: in.Statement(r.status.WorkflowID)}); err != nil {
		return err
	}
	if in.PR > 0 && in.PurgeState {
		return fail.New(fail.Config, "--purge-state with --pr %d would delete %s's state bucket, which the preview shares: destroy the preview without it", in.PR, in.Env)
	}
	var desc platform.DescribeOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("resolve "+envName(in)+" and the platform commit", time.Minute)),
		pa.Describe, platform.DescribeInput{Env: in.Env, PR: in.PR, HeadOptional: in.PR > 0}).Get(ctx, &desc); err != nil {
		return err
	}
	r.status.Commit, env.Commit = desc.Commit, desc.Commit
	r.step(ctx, "platform repository at %s", desc.Commit)
	if err := refuseWhileBusy(ctx, r, desc.Snapshot.Env.Name); err != nil {
		return err
	}
	// A frozen env waits here, before anything in it goes (a preview at its base's door).
	if door {
		if _, err := r.door(ctx, in.Env, ""); err != nil {
			return err
		}
		if in.PR > 0 {
			r.dropEnv(in.Env) // the status shows the preview only
		}
	}
	if err := planAndDestroy(ctx, r, g, in, desc); err != nil {
		return err
	}
	if err := removeState(ctx, r, g, in, desc); err != nil {
		return err
	}
	if err := revokePull(ctx, r, desc); err != nil {
		return err
	}
	return removeOIDC(ctx, r, in, desc)
}

// refuseWhileBusy fails the run, naming them, while promotions, trains or a bootstrap run
// into the env: tearing it down under them would leave them half done.
func refuseWhileBusy(ctx workflow.Context, r *run, env string) error {
	var sg *platform.Signaller
	var open platform.OpenRunsOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("runs into "+env, time.Minute)),
		sg.OpenRuns, platform.OpenRunsInput{Env: env, Exclude: r.status.WorkflowID}).Get(ctx, &open); err != nil {
		return err
	}
	if len(open.Runs) == 0 {
		r.step(ctx, "no promotion or bootstrap runs into %s", env)
		return nil
	}
	names := make([]string, 0, len(open.Runs))
	for _, o := range open.Runs {
		names = append(names, fmt.Sprintf("%s (%s)", o.WorkflowID, o.Kind))
	}
	return fail.New(api.ErrBusy, "refusing to destroy %s while %d run(s) go into it: %s; let them finish or cancel them (a preview of it: starter destroy --env %s --pr N), then destroy again",
		env, len(names), strings.Join(names, ", "), env)
}

// planAndDestroy plans the destruction, has it approved when policy asks, removes Argo CD
// while the cluster still stands, and applies exactly the approved plan. A plan that went
// stale is planned and approved again. A plan with nothing to destroy means the
// infrastructure is gone already (a rerun).
func planAndDestroy(ctx workflow.Context, r *run, g *gate, in api.DestroyInput, desc platform.DescribeOutput) error {
	var ta *terraform.Activities
	planCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:             "terraform plan -destroy of infra/entry in " + desc.Snapshot.Env.Name,
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumAttempts: 3},
	})
	argoGone := false
	for round := 1; ; round++ {
		r.setStage(ctx, api.StagePlanning)
		var plan terraform.PlanOutput
		if err := workflow.ExecuteActivity(planCtx, ta.Plan, terraform.PlanInput{Snapshot: desc.Snapshot, Commit: desc.Commit,
			RunID: workflow.GetInfo(ctx).WorkflowExecution.RunID, Destroy: true}).Get(ctx, &plan); err != nil {
			return err
		}
		summary := api.PlanSummary(plan.Summary)
		r.status.Plan = &summary
		if !plan.HasChanges() {
			r.step(ctx, "terraform plan -destroy %s: nothing left in the state, the infrastructure is already gone", short(plan.SHA256))
			if !argoGone {
				r.step(ctx, "Argo CD: gone with the cluster")
			}
			return nil
		}
		r.step(ctx, "terraform plan -destroy %s: %d to destroy", short(plan.SHA256), plan.Destroy)
		if off := switchedOff(desc.Snapshot.Env); round == 1 && len(off) > 0 {
			r.step(ctx, "switched off by terraformVars in idp.yaml, so never created and not destroyed (infra/README.md names the API each lacks in the emulator): %s",
				strings.Join(off, ", "))
		}
		if pol := desc.PlanApproval; pol.Required {
			if err := g.wait(ctx, gateRequest{Env: in.Env, Subject: plan.SHA256, What: "terraform destroy plan", Policy: pol}); err != nil {
				return err
			}
			r.step(ctx, "destroy plan %s approved", short(plan.SHA256))
		}
		if !argoGone {
			if err := removeArgoCD(ctx, r, desc, plan); err != nil {
				return err
			}
			argoGone = true
		}
		stale, err := applyDestroy(ctx, r, desc, plan)
		if stale && round < maxPlanRounds {
			r.step(ctx, "destroy plan %s went stale before apply: planning again", short(plan.SHA256))
			continue
		}
		return err
	}
}

// applyDestroy applies the approved destroy plan and reports whether it had gone stale.
func applyDestroy(ctx workflow.Context, r *run, desc platform.DescribeOutput, plan terraform.PlanOutput) (bool, error) {
	var ta *terraform.Activities
	applyCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:             "terraform apply of the destroy plan in " + desc.Snapshot.Env.Name,
		StartToCloseTimeout: 90 * time.Minute,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumAttempts: 3},
	})
	r.setStage(ctx, api.StageApplying)
	var applied terraform.ApplyOutput
	err := workflow.ExecuteActivity(applyCtx, ta.Apply, terraform.ApplyInput{Snapshot: desc.Snapshot, Commit: desc.Commit,
		PlanKey: plan.Key, SHA256: plan.SHA256, Total: plan.Destroy}).Get(ctx, &applied)
	if fail.Is(err, fail.StalePlan) {
		return true, err
	}
	if err != nil {
		return false, err
	}
	r.step(ctx, "terraform destroy: %d of %d resources destroyed", applied.Done, applied.Total)
	return false, nil
}
