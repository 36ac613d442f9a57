package workflows

// idp's metrics recorded from workflow code, through workflow.GetMetricsHandler: it records
// nothing while a history replays, and recording adds no command to the history, so these
// calls need no workflow.GetVersion.

import (
	"errors"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/metrics"
	"github.com/alexpermiakov/idp/workflows/api"
)

// observeEnv counts an env this promotion reached, by how it ended there.
func (p *promotion) observeEnv(ctx workflow.Context, env string, err error) {
	metrics.Promotion(workflow.GetMetricsHandler(ctx), env, p.in.Service, promotionOutcome(p.env(env).State, err))
}

// observeHealthy records the lead time: from the run's start until its image is Healthy in env.
func (p *promotion) observeHealthy(ctx workflow.Context, env string) {
	metrics.Lead(workflow.GetMetricsHandler(ctx), env, p.in.Service, workflow.Now(ctx).Sub(workflow.GetInfo(ctx).WorkflowStartTime))
}

// observeRollback counts a rollback written in env.
func (p *promotion) observeRollback(ctx workflow.Context, env string) {
	metrics.Rollback(workflow.GetMetricsHandler(ctx), env, p.in.Service)
}

func promotionOutcome(state api.EnvState, err error) string {
	switch {
	case err == nil:
		return metrics.Succeeded
	case errors.Is(err, errSuperseded), fail.Is(err, api.ErrSuperseded):
		return metrics.Superseded
	case state == api.EnvRolledBack:
		return metrics.RolledBack
	case state == api.EnvFrozen:
		return metrics.Frozen
	}
	return gateOutcome(err)
}

// gateOutcome names how a wait at an approval gate ended (and how a promotion that ended
// there did).
func gateOutcome(err error) string {
	switch {
	case err == nil:
		return metrics.Approved
	case fail.Is(err, fail.Rejected):
		return metrics.Rejected
	case fail.Is(err, fail.ApprovalExpired):
		return metrics.Expired
	case fail.Is(err, api.ErrSuperseded):
		return metrics.Superseded
	case temporal.IsCanceledError(err):
		return metrics.Canceled
	}
	return metrics.Failed
}
