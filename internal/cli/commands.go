package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/internal/temporalx"
	"github.com/alexpermiakov/idp/workflows/api"
)

type bootstrapOptions struct {
	env     string
	wait    bool
	sign    signFlags
	preview previewFlags
}

func (o bootstrapOptions) validate() error {
	var errs []error
	if o.env == "" {
		errs = append(errs, errors.New("--env is required (e.g. --env dev)"))
	}
	errs = append(errs, o.sign.validate(), o.preview.validate())
	return errors.Join(errs...)
}

func newBootstrapCmd(g *globals) *cobra.Command {
	var o bootstrapOptions
	cmd := &cobra.Command{
		Use:   "bootstrap --env ENV [--pr N [--ttl DURATION] [--branch B]] [--wait] [--key FILE | --no-sign]",
		Short: "Bootstrap an environment: state backend, GitHub OIDC, terraform plan → approval → apply, ECR pull",
		Long: `bootstrap starts bootstrap-<env>. The request is signed with your SSH key when one is at
hand (--key, else $IDP_SIGNING_KEY, else $IDP_KEYS_DIR/<name>, else an ssh-agent key listed
for you in idp.yaml): the statement binds the run, the env (also its subject) and the time,
and the run verifies it first thing, so four-eyes refuses approvals signed with that key
too. Without a key (CI) the request goes unsigned, and the run records it as such.

With --pr N it bootstraps pull request N's preview of the env, <env>-pr-<N>
(bootstrap-<env>-pr-<N>): its own state key, cluster k8s-pr-<N> and app-of-apps tracking
the pull request's head. The run stays open until the preview's TTL (--ttl, default 72h)
runs out, then destroys it. Run it again with --ttl while the preview lives to make it
expire that long from now; --wait returns once the preview is up.`,
		Example: `  starter bootstrap --env dev --wait
  starter bootstrap --env staging --as alice   # waits for a second person to approve the plan
  starter bootstrap --env dev --no-sign        # CI: recorded as unsigned
  starter bootstrap --env dev --pr 7 --ttl 24h # pull request 7's preview, for a day`,
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
			id := api.BootstrapID(o.env)
			in := api.BootstrapInput{Env: o.env, Requester: who, SignedAt: g.signingTime()}
			o.preview.input(&in, &id)
			if in.Signature, in.SignedAt, err = g.signRequest(o.sign, cfg, who, in.Statement(id)); err != nil {
				return err
			}
			return g.start(cmd.Context(), o.preview.request(g.out, startRequest{
				id:       id,
				workflow: api.BootstrapWorkflowName,
				input:    in,
				attrs: []temporal.SearchAttributeUpdate{api.AttrKind.ValueSet(api.KindBootstrap),
					api.AttrEnvironment.ValueSet(o.env)},
				summary: fmt.Sprintf("bootstrap %s (by %s)", o.env, who),
				who:     who,
				wait:    o.wait,
			}, in))
		},
	}
	cmd.Flags().StringVar(&o.env, "env", "", "environment to bootstrap (as named in idp.yaml)")
	cmd.Flags().BoolVar(&o.wait, "wait", false, "follow the run and exit with its outcome")
	o.sign.register(cmd)
	o.preview.register(cmd)
	return cmd
}

type decideOptions struct {
	id      string
	subject string
	comment string
	reason  string
	reject  bool
	// key is the private key file that signs the decision (--key).
	key string
}

func (o decideOptions) validate() error {
	var errs []error
	if o.id == "" {
		errs = append(errs, errors.New("WORKFLOW_ID is required"))
	}
	if o.reject && strings.TrimSpace(o.reason) == "" {
		errs = append(errs, errors.New("--reason is required: say why you reject"))
	}
	return errors.Join(errs...)
}

func newApproveCmd(g *globals) *cobra.Command {
	var o decideOptions
	cmd := &cobra.Command{
		Use:   "approve WORKFLOW_ID [--as USER] [--key FILE] [--comment TEXT]",
		Short: "Approve the plan or image a run waits for",
		Long: `approve records your approval of exactly what the run waits for: the pending plan
sha256 or image digest (see status). Pass --subject to bind your approval to the one you
reviewed; if the run has moved on to another, the approval is refused.

Where the gate requires signatures, the approval is a statement (run, env, decision,
subject, comment, time) signed with your SSH key, which must be listed for you under
people: in idp.yaml. The key comes from --key, else $IDP_SIGNING_KEY, else
$IDP_KEYS_DIR/<name>, else ssh-agent. A refused decision exits 2 and records nothing.`,
		Example: `  starter approve bootstrap-staging --as bob
  starter approve bootstrap-prod --as bob --key ~/.ssh/id_ed25519
  starter approve promote-time-service-v1.2.3 --as bob --comment "release notes checked"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.id = args[0]
			return decide(cmd.Context(), g, o)
		},
	}
	cmd.Flags().StringVar(&o.subject, "subject", "", "the plan sha256 or image digest you approve (default: the pending one)")
	cmd.Flags().StringVar(&o.comment, "comment", "", "a comment recorded with your approval")
	cmd.Flags().StringVar(&o.key, "key", "", "SSH private key that signs the approval (default $IDP_SIGNING_KEY, else ssh-agent)")
	return cmd
}

func newRejectCmd(g *globals) *cobra.Command {
	o := decideOptions{reject: true}
	cmd := &cobra.Command{
		Use:     "reject WORKFLOW_ID [--as USER] [--key FILE] --reason TEXT",
		Short:   "Reject the plan or image a run waits for; the run fails",
		Example: `  starter reject bootstrap-prod --as carol --reason "destroys the NAT gateway"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.id = args[0]
			return decide(cmd.Context(), g, o)
		},
	}
	cmd.Flags().StringVar(&o.subject, "subject", "", "the plan sha256 or image digest you reject (default: the pending one)")
	cmd.Flags().StringVar(&o.reason, "reason", "", "why (required)")
	cmd.Flags().StringVar(&o.key, "key", "", "SSH private key that signs the rejection (default $IDP_SIGNING_KEY, else ssh-agent)")
	return cmd
}

func decide(ctx context.Context, g *globals, o decideOptions) error {
	if err := o.validate(); err != nil {
		return badInput(err)
	}
	c, err := g.client()
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := queryStatus(ctx, c, o.id)
	if err != nil {
		return err
	}
	if st.PendingApproval == nil {
		// A run that ended says why (an approval that expired, a newer promotion that
		// superseded it), so the refusal names what happened, not only the stage.
		if st.Error != "" {
			return badInput(fmt.Errorf("%s is not waiting for an approval (stage %s: %s)", o.id, st.Stage, st.Error))
		}
		return badInput(fmt.Errorf("%s is not waiting for an approval (stage %s)", o.id, st.Stage))
	}
	subject := o.subject
	if subject == "" {
		subject = st.PendingApproval.Subject
	}
	who := g.identity()
	sig, at, err := g.signDecision(o, st.PendingApproval, who, subject)
	if err != nil {
		return err
	}
	name, arg := api.ApproveUpdate, any(api.ApproveInput{Who: who, Subject: subject, Comment: o.comment, Signature: sig, SignedAt: at})
	if o.reject {
		name, arg = api.RejectUpdate, api.RejectInput{Who: who, Subject: subject, Reason: o.reason, Signature: sig, SignedAt: at}
	}
	handle, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   o.id,
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		var res api.DecisionResult
		if err = handle.Get(ctx, &res); err == nil {
			fmt.Fprintf(g.out, "%s: %s\n", o.id, res.Message)
			return nil
		}
	}
	// The validator's refusal comes back as an application error: nothing was recorded.
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return badInput(fmt.Errorf("refused: %s", app.Message()))
	}
	return fmt.Errorf("sending %s to %s: %w", name, o.id, err)
}

type statusOptions struct {
	output string
}

func (o statusOptions) validate() error {
	if o.output != "" && o.output != "json" && o.output != "text" {
		return fmt.Errorf("-o must be json or text, got %q", o.output)
	}
	return nil
}

func newStatusCmd(g *globals) *cobra.Command {
	var o statusOptions
	cmd := &cobra.Command{
		Use:     "status WORKFLOW_ID [-o json]",
		Short:   "Show where a run is: stage, environments, pending approval, approvals",
		Example: "  starter status bootstrap-staging\n  starter status bootstrap-staging -o json | jq .stage",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return badInput(err)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := queryStatus(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			st.Notes = activityNotes(cmd.Context(), c, args[0])
			if o.output == "json" {
				return printJSON(g.out, st)
			}
			printStatus(g.out, st)
			for _, n := range st.Notes {
				fmt.Fprintf(g.out, "now: %s\n", n)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return cmd
}

func newWatchCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "watch WORKFLOW_ID",
		Short:   "Follow a run until it ends; exit with its outcome",
		Example: "  starter watch bootstrap-dev",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			defer c.Close()
			return follow(cmd.Context(), g, c, args[0], "")
		},
	}
}

// queryStatus asks a run for its status document; for a closed run whose history no worker
// can replay right now, it falls back to the run's result.
func queryStatus(ctx context.Context, c client.Client, id string) (api.Status, error) {
	var st api.Status
	v, err := c.QueryWorkflow(ctx, id, "", api.StatusQuery)
	if err == nil {
		err = v.Get(&st)
		return st, err
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return st, badInput(fmt.Errorf("no run with ID %s (see `starter list`)", id))
	}
	var qf *serviceerror.QueryFailed
	if errors.As(err, &qf) && strings.Contains(qf.Error(), "unknown queryType") {
		return st, badInput(fmt.Errorf("%s keeps no status (it is not a run): starter status shows bootstrap, destroy, promote and train runs (see `starter list`)", id))
	}
	// A closed run still gives its result without a worker; a running one would block here.
	if d, derr := c.DescribeWorkflow(ctx, id, ""); derr == nil && d.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		if getErr := c.GetWorkflow(ctx, id, "").Get(ctx, &st); getErr == nil {
			return st, nil
		}
	}
	return st, fmt.Errorf("querying %s (is a worker running?): %w", id, err)
}

// follow prints a run's progress until it closes and returns its outcome.
func follow(ctx context.Context, g *globals, c client.Client, id, runID string) error {
	done := make(chan error, 1)
	go func() {
		var st api.Status
		done <- c.GetWorkflow(ctx, id, runID).Get(ctx, &st)
	}()
	var lastStage api.Stage
	var steps, ignored int
	hinted, up := "", ""
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	report := func() {
		v, err := c.QueryWorkflow(ctx, id, runID, api.StatusQuery)
		if err != nil {
			return
		}
		var st api.Status
		if v.Get(&st) != nil {
			return
		}
		for ; steps < len(st.Steps); steps++ {
			fmt.Fprintf(g.out, "  %s\n", st.Steps[steps])
		}
		for ; ignored < len(st.IgnoredSignals); ignored++ {
			s := st.IgnoredSignals[ignored]
			fmt.Fprintf(g.out, "  ignored %s signal from %s: %s\n", s.Signal, s.Who, s.Reason)
		}
		if st.Stage != lastStage {
			fmt.Fprintf(g.out, "%s: %s\n", id, st.Stage)
			lastStage = st.Stage
		}
		up = previewUp(st)
		if pa := st.PendingApproval; pa != nil && hinted != pa.Subject {
			hinted = pa.Subject
			fmt.Fprintf(g.out, "  waiting for approval of %s %s in %s: starter approve %s --as USER\n", pa.What, pa.Subject, pa.Env, id)
		}
	}
	for {
		select {
		case err := <-done:
			report()
			if err != nil {
				var app *temporal.ApplicationError
				if errors.As(err, &app) && app.Type() == api.ErrUnverifiedRequest {
					return badInput(fmt.Errorf("%s: %s", id, app.Message()))
				}
				if errors.As(err, &app) {
					return failed(fmt.Errorf("%s failed: %s", id, app.Message()))
				}
				return failed(fmt.Errorf("%s failed: %w", id, err))
			}
			if lastStage != api.StageDone {
				fmt.Fprintf(g.out, "%s: done\n", id)
			}
			return nil
		case <-tick.C:
			if report(); up != "" {
				fmt.Fprintln(g.out, up) // a preview's run stays open until its TTL: it is done
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func webURL(namespace, id, runID string) string {
	if namespace == "" {
		namespace = temporalx.DefaultNamespace
	}
	base := os.Getenv("TEMPORAL_UI_URL")
	if base == "" {
		base = "http://localhost:8233"
	}
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s", strings.TrimRight(base, "/"), namespace, id, runID)
}

// startRequest is one workflow start by the CLI.
type startRequest struct {
	id, workflow string
	input        any
	attrs        []temporal.SearchAttributeUpdate
	summary, who string
	// route is shown after the ID (a promotion's envs).
	route string
	wait  bool
	// attach, when set, decides about a run of the same ID that is running: nil means follow
	// it as if this request had started it (the image watch started what was asked for);
	// an error refuses. Without it a running run is refused as bad input.
	attach func(ctx context.Context, c client.Client, runID string) error
}

// start starts a run, refusing (as bad input) a second one while the first runs, prints where
// to watch it, and with wait follows it to its outcome.
func (g *globals) start(ctx context.Context, r startRequest) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	defer c.Close()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       r.id,
		TaskQueue:                api.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Without this the SDK quietly hands back the running run.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(append(r.attrs, api.AttrStage.ValueSet(string(api.StagePreparing)))...),
		StaticSummary:                            r.summary,
		StaticDetails:                            staticDetails(r.id),
	}, r.workflow, r.input)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) && r.attach != nil {
		if err := r.attach(ctx, c, started.RunId); err != nil {
			return err
		}
		g.flushNote()
		fmt.Fprintf(g.out, "  %s\n", webURL(g.namespace, r.id, started.RunId))
		if !r.wait {
			return nil
		}
		return follow(ctx, g, c, r.id, started.RunId)
	}
	if errors.As(err, &started) {
		return badInput(fmt.Errorf("%s is already running: follow it with `starter watch %s`, approve it with `starter approve %s`", r.id, r.id, r.id))
	}
	if err != nil {
		return fmt.Errorf("starting %s: %w", r.id, err)
	}
	g.flushNote()
	fmt.Fprintf(g.out, "started %s as %s%s\n  %s\n", r.id, r.who, r.route, webURL(g.namespace, r.id, run.GetRunID()))
	if !r.wait {
		return nil
	}
	return follow(ctx, g, c, r.id, run.GetRunID())
}
