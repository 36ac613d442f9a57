package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/workflows/api"
)

// ExitDrifted: `starter drift --wait` finished its check and the env drifted.
const ExitDrifted = 4

type driftOptions struct {
	env    string
	wait   bool
	output string
}

func (o driftOptions) validate() error {
	var errs []error
	if o.env == "" {
		errs = append(errs, errors.New("--env is required (e.g. --env dev)"))
	}
	if o.output != "" && o.output != "json" && o.output != "text" {
		errs = append(errs, fmt.Errorf("-o must be json or text, got %q", o.output))
	}
	if o.output == "json" && !o.wait {
		errs = append(errs, errors.New("-o json prints the report, which needs --wait"))
	}
	return errors.Join(errs...)
}

func newDriftCmd(g *globals) *cobra.Command {
	var o driftOptions
	cmd := &cobra.Command{
		Use:   "drift --env ENV [--wait] [-o json]",
		Short: "Check an environment for drift now: terraform, GitHub OIDC trust, Argo CD (changes nothing)",
		Long: `drift starts drift-<env>, the check the env's schedule runs (environments[].drift in
idp.yaml, every 6h by default): terraform plan -refresh-only and a normal plan of infra/entry
at the platform branch's head, the GitHub OIDC trust and the Argo CD install, compared with
what bootstrap writes. It reports resource addresses and short descriptions, never values,
and never applies anything: rerun bootstrap to see the plan that puts things back.

With --wait it prints the report and exits 0 when the env matches, 4 when it drifted, 1 when
the check itself failed. A check of the env that is already running is followed, not refused.`,
		Example: `  starter drift --env staging --wait
  starter drift --env prod --wait -o json | jq .terraform   # CI: exit 4 means drift
  starter list --drifted`,
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
			who := g.identity()
			id := api.DriftID(o.env)
			out := g.out
			if o.output == "json" {
				g.out = io.Discard // only the report goes to stdout
			}
			err = g.start(cmd.Context(), startRequest{
				id:       id,
				workflow: api.DriftWorkflowName,
				input:    api.DriftInput{Env: o.env, Requester: who},
				attrs:    []temporal.SearchAttributeUpdate{api.AttrKind.ValueSet(api.KindDrift), api.AttrEnvironment.ValueSet(o.env)},
				summary:  fmt.Sprintf("drift check of %s (by %s)", o.env, who),
				who:      who,
				wait:     o.wait,
				attach: func(context.Context, client.Client, string) error {
					fmt.Fprintf(g.out, "%s is already running: following it\n", id)
					return nil
				},
			})
			g.out = out
			if err != nil || !o.wait {
				return err
			}
			return g.driftReport(cmd.Context(), id, o.output)
		},
	}
	cmd.Flags().StringVar(&o.env, "env", "", "environment to check (as named in idp.yaml)")
	cmd.Flags().BoolVar(&o.wait, "wait", false, "follow the check, print its report and exit 4 when the env drifted")
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "report format with --wait: text or json")
	return cmd
}

// driftReport prints the report of the check id that just ended.
func (g *globals) driftReport(ctx context.Context, id, output string) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	defer c.Close()
	var st api.Status
	if err := c.GetWorkflow(ctx, id, "").Get(ctx, &st); err != nil {
		return failed(fmt.Errorf("%s failed: %w", id, err))
	}
	if st.Drift == nil {
		return failed(fmt.Errorf("%s ended without a report", id))
	}
	rep := *st.Drift
	if output == "json" {
		if err := printJSON(g.out, rep); err != nil {
			return err
		}
	} else {
		printDrift(g.out, rep)
	}
	if rep.Drifted {
		return &ExitError{Code: ExitDrifted, Err: fmt.Errorf("%s drifted: rerun `starter bootstrap --env %s` to see the plan that puts it back", rep.Env, rep.Env)}
	}
	return nil
}

func printDrift(w io.Writer, rep api.DriftReport) {
	if !rep.Drifted {
		fmt.Fprintf(w, "%s matches platform commit %s: no drift\n", rep.Env, rep.Commit)
		return
	}
	fmt.Fprintf(w, "%s drifted from platform commit %s\n", rep.Env, rep.Commit)
	for _, part := range []struct {
		title string
		items []string
	}{{"changed outside terraform (plan -refresh-only)", rep.Terraform}, {"terraform would change (plan)", rep.Changes},
		{"GitHub OIDC", rep.OIDC}, {"Argo CD", rep.ArgoCD}} {
		if len(part.items) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s:\n", part.title)
		for _, it := range part.items {
			fmt.Fprintf(w, "  - %s\n", it)
		}
	}
}

// DriftedEnv is one line of `list --drifted`: an env whose latest finished check found drift.
type DriftedEnv struct {
	Env        string    `json:"env"`
	WorkflowID string    `json:"workflowId"`
	RunID      string    `json:"runId"`
	Checked    time.Time `json:"checked"`
}

// driftedQuery finds the drift checks that finished their comparison (IdpDrift is set then,
// true or false); the latest per env says whether it drifted.
func driftedQuery(env string) string {
	q := fmt.Sprintf("IdpKind = '%s' AND IdpDrift IS NOT NULL", api.KindDrift)
	if env != "" {
		q += fmt.Sprintf(" AND IdpEnvironment = '%s'", env)
	}
	return q
}

// listDrifted prints the envs whose latest finished drift check found drift.
func listDrifted(ctx context.Context, g *globals, c client.Client, env, output string) error {
	type check struct {
		DriftedEnv
		drifted bool
	}
	latest := map[string]check{}
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: driftedQuery(env), NextPageToken: token, PageSize: 100})
		if err != nil {
			return fmt.Errorf("listing drift checks: %w", err)
		}
		for _, e := range resp.Executions {
			fields := e.GetSearchAttributes().GetIndexedFields()
			var drifted bool
			if p := fields[api.AttrDrift.GetName()]; p == nil || converter.GetDefaultDataConverter().FromPayload(p, &drifted) != nil {
				continue
			}
			ch := check{DriftedEnv{Env: keywords(fields)["IdpEnvironment"], WorkflowID: e.GetExecution().GetWorkflowId(),
				RunID: e.GetExecution().GetRunId(), Checked: e.GetStartTime().AsTime()}, drifted}
			if prev, ok := latest[ch.Env]; !ok || ch.Checked.After(prev.Checked) {
				latest[ch.Env] = ch
			}
		}
		if token = resp.NextPageToken; len(token) == 0 {
			break
		}
	}
	out := []DriftedEnv{}
	for _, ch := range latest {
		if ch.drifted {
			out = append(out, ch.DriftedEnv)
		}
	}
	slices.SortFunc(out, func(a, b DriftedEnv) int { return strings.Compare(a.Env, b.Env) })
	if output == "json" {
		return printJSON(g.out, out)
	}
	if len(out) == 0 {
		fmt.Fprintln(g.out, "no env drifted at its latest check")
		return nil
	}
	tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENV\tDRIFT CHECK\tCHECKED")
	for _, d := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Env, d.WorkflowID, d.Checked.Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(g.out, "see what drifted: starter status WORKFLOW_ID")
	return nil
}
