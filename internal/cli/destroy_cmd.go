package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/workflows/api"
)

type destroyOptions struct {
	env        string
	pr         int
	purgeState bool
	wait       bool
	sign       signFlags
}

func (o destroyOptions) validate() error {
	var errs []error
	if o.env == "" {
		errs = append(errs, errors.New("--env is required (e.g. --env dev)"))
	}
	if o.pr < 0 {
		errs = append(errs, fmt.Errorf("--pr must be a pull request number, got %d", o.pr))
	}
	if o.pr > 0 && o.purgeState {
		errs = append(errs, errors.New("--purge-state cannot go with --pr: a preview shares its base env's state bucket"))
	}
	errs = append(errs, o.sign.validate())
	return errors.Join(errs...)
}

func newDestroyCmd(g *globals) *cobra.Command {
	var o destroyOptions
	cmd := &cobra.Command{
		Use:   "destroy --env ENV [--pr N] [--purge-state] [--wait] [--key FILE | --no-sign]",
		Short: "Tear an environment down: Argo CD and its workloads, terraform plan -destroy → approval → apply, state, ECR pull, GitHub role",
		Long: `destroy starts destroy-<env> (destroy-<env>-pr-<N> for a preview env). It refuses while
promotions or a bootstrap run into the env, naming them. Where the env's bootstrap policy asks
for plan approval, people approve the destroy plan (its sha256) as they approve a bootstrap's
plan, before anything goes. Then the env's Argo CD Applications go (their workloads first),
then Argo CD, then terraform applies exactly the approved plan; the env's state object leaves
the state bucket (the bucket stays unless --purge-state, which asks its own approval); the
env account's ECR pull is revoked; the GitHub role goes unless another env of the account
uses it. A second destroy finishes what a first one left and says what was already gone.
The request is signed like bootstrap's.`,
		Example: `  starter destroy --env dev --wait
  starter destroy --env staging --as alice      # waits for a second person to approve the plan
  starter destroy --env dev --pr 42             # a preview env ends before its time to live`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return badInput(err)
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if _, err := cfg.Env(o.env); err != nil {
				return badInput(err)
			}
			who, err := g.requester()
			if err != nil {
				return err
			}
			id := api.DestroyID(o.env, o.pr)
			in := api.DestroyInput{Env: o.env, PR: o.pr, PurgeState: o.purgeState, Requester: who, SignedAt: g.signingTime()}
			if in.Signature, in.SignedAt, err = g.signRequest(o.sign, cfg, who, in.Statement(id)); err != nil {
				return err
			}
			what := o.env
			if o.pr > 0 {
				what = fmt.Sprintf("%s pr-%d", o.env, o.pr)
				if ended, err := g.endPreview(cmd.Context(), in, o.wait); ended || err != nil {
					return err
				}
			}
			return g.start(cmd.Context(), startRequest{
				id:       id,
				workflow: api.DestroyWorkflowName,
				input:    in,
				attrs: []temporal.SearchAttributeUpdate{api.AttrKind.ValueSet(api.KindDestroy),
					api.AttrEnvironment.ValueSet(o.env)},
				summary: fmt.Sprintf("destroy %s (by %s)", what, who),
				who:     who,
				wait:    o.wait,
			})
		},
	}
	cmd.Flags().StringVar(&o.env, "env", "", "environment to destroy (as named in idp.yaml)")
	cmd.Flags().IntVar(&o.pr, "pr", 0, "destroy the preview env of this pull request, derived from --env")
	cmd.Flags().BoolVar(&o.purgeState, "purge-state", false, "delete the state bucket too (its own approval where plans need one)")
	cmd.Flags().BoolVar(&o.wait, "wait", false, "follow the run and exit with its outcome")
	o.sign.register(cmd)
	return cmd
}

// endPreview hands a signed destroy of a preview to the preview's own run when it is open:
// its timer ends, it starts the destroy with this request (whose signature the destroy
// checks), and nothing later finds the preview destroyed behind its back. ended is false when
// no preview run is open: the destroy is then started directly.
func (g *globals) endPreview(ctx context.Context, in api.DestroyInput, wait bool) (ended bool, err error) {
	c, err := g.client()
	if err != nil {
		return false, err
	}
	defer c.Close()
	preview, destroy := api.PreviewID(in.Env, in.PR), api.DestroyID(in.Env, in.PR)
	desc, err := c.DescribeWorkflow(ctx, preview, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("looking up %s: %w", preview, err)
	}
	if desc.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return false, nil
	}
	runID := desc.WorkflowExecution.RunID
	if err := c.SignalWorkflow(ctx, preview, runID, api.DestroySignal, api.DestroyRequest{Who: in.Requester, Input: &in}); err != nil {
		return false, fmt.Errorf("asking %s to end: %w", preview, err)
	}
	fmt.Fprintf(g.out, "asked %s to end its preview as %s: it starts %s with this request\n  %s\n",
		preview, in.Requester, destroy, webURL(g.namespace, preview, runID))
	if !wait {
		return true, nil
	}
	// The preview's run ends once it has started the destroy (after its bootstrap, if that
	// still runs); then follow the destroy.
	var st api.Status
	if err := c.GetWorkflow(ctx, preview, runID).Get(ctx, &st); err != nil {
		return true, fmt.Errorf("%s ended without starting %s: %w", preview, destroy, err)
	}
	return true, follow(ctx, g, c, destroy, "")
}
