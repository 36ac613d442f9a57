// Package metrics names idp's own metrics and records them through Temporal's metrics
// handler, so they land in the worker's Prometheus registry beside the SDK's (internal/observe
// serves it). Workflows pass workflow.GetMetricsHandler, which records nothing while a
// history replays, so a replayed run never counts twice; activities pass their context, and
// each activity-side measurement is logged too, with the workflow and run it belongs to.
//
// Labels stay few and bounded: env and service come from idp.yaml, app is an Argo CD
// Application named after them, outcome and kind are the constants below. Tags, digests,
// people and workflow IDs never become labels.
package metrics

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
)

// Metric names, as Prometheus shows them. The SDK handler turns timers into histograms in
// seconds, so each timer also has _bucket, _sum and _count series.
const (
	// Promotions counts each env a promotion reached, by how it ended there.
	Promotions = "idp_promotions_total"
	// Rollbacks counts rollbacks written: the env's previous image put back after ours
	// turned Degraded or never became Healthy.
	Rollbacks = "idp_rollbacks_total"
	// ApprovalWait is how long a gate waited, from opening to its outcome.
	ApprovalWait = "idp_approval_wait_seconds"
	// LeadTime is from a promotion's start (the request) until its image is Healthy in an env.
	LeadTime = "idp_lead_time_seconds"
	// TerraformApply is the duration of one terraform apply (one activity attempt).
	TerraformApply = "idp_terraform_apply_seconds"
	// ArgoCDWait is how long one wait for an Application took (one activity attempt).
	ArgoCDWait = "idp_argocd_wait_seconds"
)

// Label names.
const (
	LabelEnv     = "env"
	LabelService = "service"
	LabelApp     = "app"
	LabelKind    = "kind"
	LabelOutcome = "outcome"
)

// Outcomes. A promotion in an env and an approval gate end in one of the first group; an
// apply in succeeded or failed; an Argo CD wait in healthy or one of the last group.
const (
	Succeeded  = "succeeded"
	Failed     = "failed"
	RolledBack = "rolled_back"
	Superseded = "superseded"
	Frozen     = "frozen"
	Approved   = "approved"
	Rejected   = "rejected"
	Expired    = "expired"
	Canceled   = "canceled"

	Healthy  = "healthy"
	Degraded = "degraded"
	TimedOut = "timeout"
	Replaced = "replaced"
)

// Promotion counts one env a promotion reached, by outcome.
func Promotion(h client.MetricsHandler, env, service, outcome string) {
	h.WithTags(map[string]string{LabelEnv: env, LabelService: service, LabelOutcome: outcome}).Counter(Promotions).Inc(1)
}

// Rollback counts one rollback written in env.
func Rollback(h client.MetricsHandler, env, service string) {
	h.WithTags(map[string]string{LabelEnv: env, LabelService: service}).Counter(Rollbacks).Inc(1)
}

// Approval records how long a gate of a run of kind waited in env, and how it ended.
func Approval(h client.MetricsHandler, kind, env, outcome string, waited time.Duration) {
	h.WithTags(map[string]string{LabelKind: kind, LabelEnv: env, LabelOutcome: outcome}).Timer(ApprovalWait).Record(waited)
}

// Lead records the time from a promotion's start until its image was Healthy in env.
func Lead(h client.MetricsHandler, env, service string, d time.Duration) {
	h.WithTags(map[string]string{LabelEnv: env, LabelService: service}).Timer(LeadTime).Record(d)
}

// Apply records one terraform apply in env, from its start until now, and logs it. Outside
// an activity (a unit test calling the method) it does nothing.
func Apply(ctx context.Context, env, outcome string, start time.Time) {
	if !activity.IsActivity(ctx) {
		return
	}
	d := time.Since(start)
	activity.GetMetricsHandler(ctx).WithTags(map[string]string{LabelEnv: env, LabelOutcome: outcome}).Timer(TerraformApply).Record(d)
	activity.GetLogger(ctx).Info("terraform apply ended", LabelEnv, env, LabelOutcome, outcome, "seconds", d.Seconds())
}

// Wait records one wait for Argo CD's Application app in env, from its start until now, and
// logs it. Outside an activity it does nothing.
func Wait(ctx context.Context, env, app, outcome string, start time.Time) {
	if !activity.IsActivity(ctx) {
		return
	}
	d := time.Since(start)
	activity.GetMetricsHandler(ctx).WithTags(map[string]string{LabelEnv: env, LabelApp: app, LabelOutcome: outcome}).Timer(ArgoCDWait).Record(d)
	activity.GetLogger(ctx).Info("Argo CD wait ended", LabelEnv, env, LabelApp, app, LabelOutcome, outcome, "seconds", d.Seconds())
}
