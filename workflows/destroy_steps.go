package workflows

import (
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/activities/terraform"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/workflows/api"
)

// removeArgoCD removes the env's Applications (their workloads first) and Argo CD while the
// cluster still stands. A destroy plan without the EKS cluster means it is gone already, and
// Argo CD with it.
func removeArgoCD(ctx workflow.Context, r *run, desc platform.DescribeOutput, plan terraform.PlanOutput) error {
	env := desc.Snapshot.Env.Name
	if !planHasCluster(plan) {
		r.step(ctx, "Argo CD in %s: the cluster is not in the destroy plan, so it is gone already", env)
		return nil
	}
	var ar *argocd.Activities
	r.setStage(ctx, api.StageDeploying)
	opts := activityOptions("remove Argo CD and its Applications from "+env, desc.ArgoCDTimeout+5*time.Minute)
	opts.HeartbeatTimeout = 2 * time.Minute
	var out argocd.UninstallOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), ar.UninstallArgoCD,
		argocd.UninstallInput{Snapshot: desc.Snapshot}).Get(ctx, &out); err != nil {
		return err
	}
	switch {
	case out.SharedWith != "":
		var gone []string
		if out.AlreadyGone {
			gone = []string{desc.Snapshot.Env.ArgoCD.AppOfApps}
		}
		r.step(ctx, "Argo CD in %s: the cluster is %s's too (a preview in its base's cluster, as in the sandbox): %s; Argo CD and %s's Applications stay",
			env, out.SharedWith, removed(out.Apps, gone), out.SharedWith)
	case out.AlreadyGone:
		r.step(ctx, "Argo CD in %s: already gone", env)
	case len(out.Apps) > 0:
		r.step(ctx, "Argo CD in %s: %d Applications deleted with their workloads (%s); %d Argo CD objects deleted",
			env, len(out.Apps), strings.Join(out.Apps, ", "), len(out.Removed))
	default:
		r.step(ctx, "Argo CD in %s: no Applications left; %d Argo CD objects deleted", env, len(out.Removed))
	}
	return nil
}

// planHasCluster reports whether the destroy plan still holds an EKS cluster.
func planHasCluster(plan terraform.PlanOutput) bool {
	for _, a := range plan.Destroys {
		if strings.Contains(a, "aws_eks_cluster.") {
			return true
		}
	}
	return false
}

// removeState deletes the env's state object (and its saved plans), keeping the bucket; with
// --purge-state the bucket goes too, after its own approval where the env's policy asks.
func removeState(ctx workflow.Context, r *run, g *gate, in api.DestroyInput, desc platform.DescribeOutput) error {
	var aa *aws.Activities
	bucket := desc.Snapshot.Env.StateBucket
	r.setStage(ctx, api.StageApplying)
	var out aws.RemoveStateOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("remove the state of "+desc.Snapshot.Env.Name, 2*time.Minute)),
		aa.RemoveState, aws.RemoveStateInput{Snapshot: desc.Snapshot}).Get(ctx, &out); err != nil {
		return err
	}
	r.step(ctx, "state in %s: %s", bucket, removed(out.Removed, out.AlreadyGone))
	if !in.PurgeState {
		r.step(ctx, "state bucket %s kept (--purge-state deletes it)", bucket)
		return nil
	}
	if pol := desc.PlanApproval; pol.Required {
		if err := g.wait(ctx, gateRequest{Env: in.Env, Subject: "s3://" + bucket, What: "deletion of the state bucket", Policy: pol}); err != nil {
			return err
		}
		r.step(ctx, "deletion of the state bucket %s approved", bucket)
		r.setStage(ctx, api.StageApplying)
	}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("delete the state bucket "+bucket, 10*time.Minute)),
		aa.RemoveState, aws.RemoveStateInput{Snapshot: desc.Snapshot, Purge: true}).Get(ctx, &out); err != nil {
		return err
	}
	r.step(ctx, "state bucket %s: %s", bucket, removed(out.Removed, out.AlreadyGone))
	return nil
}

// revokePull takes back the env account's pull of the tooling repositories.
func revokePull(ctx workflow.Context, r *run, desc platform.DescribeOutput) error {
	if !desc.GrantPull {
		r.step(ctx, "ECR pull revoke switched off in idp.yaml (tooling.grantPull: false)")
		return nil
	}
	var aa *aws.Activities
	var out aws.GrantOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("revoke ECR pull for "+desc.Snapshot.Env.Name, 2*time.Minute)),
		aa.RevokeECRPull, aws.GrantInput{Snapshot: desc.Snapshot}).Get(ctx, &out); err != nil {
		return err
	}
	if len(out.Changed) == 0 {
		r.step(ctx, "ECR pull for account %s: already revoked", desc.AccountID)
	} else {
		r.step(ctx, "ECR pull for account %s revoked in %s", desc.AccountID, strings.Join(out.Changed, ", "))
	}
	return nil
}

// removeOIDC deletes the env's GitHub role, and GitHub's OIDC provider with it, unless other
// envs of the account (idp.yaml) still use them. A preview env shares its base env's.
func removeOIDC(ctx workflow.Context, r *run, in api.DestroyInput, desc platform.DescribeOutput) error {
	role := desc.GitHubRole
	if in.PR > 0 {
		r.step(ctx, "GitHub role %s kept: %s uses it", role, in.Env)
		return nil
	}
	var pa *platform.Activities
	var shared platform.SharedAccountOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("other envs in account "+desc.AccountID, time.Minute)),
		pa.SharedAccount, platform.SharedAccountInput{Env: in.Env}).Get(ctx, &shared); err != nil {
		return err
	}
	if len(shared.Role) > 0 {
		r.step(ctx, "GitHub role %s kept: %s in account %s use it too", role, strings.Join(shared.Role, ", "), desc.AccountID)
		return nil
	}
	var aa *aws.Activities
	var out aws.RemoveOIDCOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions("remove GitHub OIDC and "+role, 2*time.Minute)),
		aa.RemoveGitHubOIDC, aws.RemoveOIDCInput{Snapshot: desc.Snapshot, KeepProvider: len(shared.Envs) > 0}).Get(ctx, &out); err != nil {
		return err
	}
	r.step(ctx, "GitHub OIDC in account %s: %s", desc.AccountID, removed(out.Removed, out.AlreadyGone))
	return nil
}

// removed says what a step removed and what it found gone.
func removed(done, gone []string) string {
	var parts []string
	if len(done) > 0 {
		parts = append(parts, "removed "+strings.Join(done, ", "))
	}
	if len(gone) > 0 {
		parts = append(parts, "already gone: "+strings.Join(gone, ", "))
	}
	if len(parts) == 0 {
		return "nothing to remove"
	}
	return strings.Join(parts, "; ")
}

// switchedOff names the terraform switches idp.yaml turns off for this env (the sandbox's, for
// APIs its emulator lacks): what they stand for was never created, so nothing of it is left
// to destroy.
func switchedOff(env config.Environment) []string {
	var off []string
	for _, k := range workflow.DeterministicKeys(env.TerraformVars) {
		if v, ok := env.TerraformVars[k].(bool); ok && !v && (strings.HasPrefix(k, "enable_") || strings.HasPrefix(k, "attach_")) {
			off = append(off, k)
		}
	}
	return off
}
