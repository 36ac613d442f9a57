package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/alexpermiakov/idp/workflows/api"
)

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printStatus(w io.Writer, st api.Status) {
	fmt.Fprintf(w, "%s  (%s)  stage: %s\n", st.WorkflowID, st.Kind, st.Stage)
	if st.Requester != "" {
		fmt.Fprintf(w, "requested by: %s\n", st.RequestedBy())
	}
	if st.Commit != "" {
		fmt.Fprintf(w, "commit:       %s\n", st.Commit)
	}
	if st.Service != "" {
		fmt.Fprintf(w, "release:      %s %s %s\n", st.Service, st.Version, st.Digest)
	}
	if st.SupersededBy != "" {
		fmt.Fprintf(w, "superseded by %s\n", st.SupersededBy)
	}
	printTrain(w, st.Train)
	printPreview(w, st.Preview)
	for _, e := range st.Environments {
		fmt.Fprintf(w, "env %-10s %s", e.Name, e.State)
		for _, v := range []string{e.Image, e.Commit} { // a train's members carry these, not the train
			if v != "" {
				fmt.Fprintf(w, " %s", v)
			}
		}
		if e.SoakUntil != nil {
			fmt.Fprintf(w, " (soaking until %s)", e.SoakUntil.Format(time.RFC3339))
		}
		fmt.Fprintln(w)
	}
	if st.Frozen != "" {
		fmt.Fprintf(w, "waiting at the door: %s (starter freezes)\n", st.Frozen)
	}
	if p := st.Plan; p != nil {
		fmt.Fprintf(w, "plan %s: %d to add, %d to change, %d to destroy\n", p.SHA256, p.Add, p.Change, p.Destroy)
	}
	if pa := st.PendingApproval; pa != nil {
		who := "anyone"
		if len(pa.Approvers) > 0 {
			who = strings.Join(pa.Approvers, ", ")
		}
		fmt.Fprintf(w, "waiting for approval in %s of %s %s: %d of %d, by %s, until %s\n",
			pa.Env, pa.What, pa.Subject, pa.Received, pa.MinApprovals, who, pa.ExpiresAt.Format(time.RFC3339))
		if pa.Reviews != "" {
			fmt.Fprintf(w, "  or by an approving review of %s\n", pa.Reviews)
		}
	}
	for _, d := range st.Approvals {
		fmt.Fprintf(w, "%s by %s at %s", d.Decision, d.Who, d.When.Format(time.RFC3339))
		switch {
		case d.Source == api.SourceGitHubReview:
			fmt.Fprintf(w, " (GitHub review, %s)", d.Key)
		case d.Verified:
			fmt.Fprintf(w, " (signed, %s)", d.Key)
		default:
			fmt.Fprint(w, " (unsigned)")
		}
		if d.Comment != "" {
			fmt.Fprintf(w, ": %s", d.Comment)
		}
		fmt.Fprintln(w)
	}
	for _, s := range st.IgnoredSignals {
		fmt.Fprintf(w, "ignored %s signal from %s: %s\n", s.Signal, s.Who, s.Reason)
	}
	for _, s := range st.Steps {
		fmt.Fprintf(w, "  - %s\n", s)
	}
	if st.Error != "" {
		fmt.Fprintf(w, "error: %s\n", st.Error)
	}
}

type listOptions struct {
	kind    string
	service string
	env     string
	open    bool
	output  string
	// previews lists the live previews with their TTL left.
	previews bool
	// drifted lists the envs whose latest drift check found drift (drift_cmd.go).
	drifted bool
}

func (o listOptions) validate() error {
	var errs []error
	if o.kind != "" && o.kind != api.KindBootstrap && o.kind != api.KindPromote && o.kind != api.KindTrain &&
		o.kind != api.KindDestroy && o.kind != api.KindDrift {
		errs = append(errs, fmt.Errorf("--kind must be bootstrap, promote, train, destroy or drift, got %q", o.kind))
	}
	if o.drifted && (o.kind != "" || o.service != "" || o.open) {
		errs = append(errs, errors.New("--drifted lists envs, so it takes only --env and -o"))
	}
	if o.output != "" && o.output != "json" && o.output != "text" {
		errs = append(errs, fmt.Errorf("-o must be json or text, got %q", o.output))
	}
	for _, v := range []string{o.service, o.env} {
		if strings.ContainsAny(v, `'"\`) {
			errs = append(errs, fmt.Errorf("invalid filter value %q", v))
		}
	}
	return errors.Join(errs...)
}

// query builds the visibility query for the filters.
func (o listOptions) query() string {
	parts := []string{"IdpKind IS NOT NULL"}
	if o.kind != "" {
		parts = append(parts, fmt.Sprintf("IdpKind = '%s'", o.kind))
	}
	if o.service != "" {
		parts = append(parts, fmt.Sprintf("IdpService = '%s'", o.service))
	}
	if o.env != "" {
		parts = append(parts, fmt.Sprintf("IdpEnvironment = '%s'", o.env))
	}
	if o.open || o.previews {
		parts = append(parts, "ExecutionStatus = 'Running'")
	}
	if o.previews {
		parts = append(parts, "IdpPreview IS NOT NULL")
	}
	return strings.Join(parts, " AND ")
}

// RunSummary is one line of `list`.
type RunSummary struct {
	WorkflowID  string     `json:"workflowId"`
	RunID       string     `json:"runId"`
	Kind        string     `json:"kind"`
	Stage       string     `json:"stage"`
	Status      string     `json:"status"`
	Environment string     `json:"environment,omitempty"`
	Service     string     `json:"service,omitempty"`
	Version     string     `json:"version,omitempty"`
	StartTime   time.Time  `json:"startTime"`
	CloseTime   *time.Time `json:"closeTime,omitempty"`
	// Preview, ExpiresAt and TTLLeft describe a pull request's preview (list --previews).
	Preview   string     `json:"preview,omitempty"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	TTLLeft   string     `json:"ttlLeft,omitempty"`
}

func newListCmd(g *globals) *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:     "list [--kind bootstrap|promote|train|destroy|drift] [--service SVC] [--env ENV] [--open] [--previews] [--drifted] [-o json]",
		Short:   "List idp runs, newest first",
		Example: "  starter list --open\n  starter list --kind bootstrap --env prod -o json\n  starter list --previews",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return badInput(err)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			defer c.Close()
			if o.drifted {
				return listDrifted(cmd.Context(), g, c, o.env, o.output)
			}
			runs := []RunSummary{}
			var token []byte
			for {
				resp, err := c.ListWorkflow(cmd.Context(), &workflowservice.ListWorkflowExecutionsRequest{
					Query: o.query(), NextPageToken: token, PageSize: 100})
				if err != nil {
					return fmt.Errorf("listing runs: %w", err)
				}
				for _, e := range resp.Executions {
					runs = append(runs, summarize(e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId(),
						e.GetStatus(), e.GetStartTime().AsTime(), e.GetCloseTime(), keywords(e.GetSearchAttributes().GetIndexedFields())))
				}
				if token = resp.NextPageToken; len(token) == 0 {
					break
				}
			}
			if o.previews {
				return printPreviews(g.out, o.output, runs, g.now())
			}
			if o.output == "json" {
				return printJSON(g.out, runs)
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "WORKFLOW ID\tKIND\tSTAGE\tSTATUS\tSTARTED")
			for _, r := range runs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.WorkflowID, r.Kind, r.Stage, r.Status, r.StartTime.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&o.kind, "kind", "", "bootstrap, promote, train or destroy")
	cmd.Flags().StringVar(&o.service, "service", "", "only runs of this service")
	cmd.Flags().StringVar(&o.env, "env", "", "only runs in this environment")
	cmd.Flags().BoolVar(&o.open, "open", false, "only runs still going")
	cmd.Flags().BoolVar(&o.previews, "previews", false, "only live pull request previews, with their TTL left")
	cmd.Flags().BoolVar(&o.drifted, "drifted", false, "the envs whose latest drift check found drift")
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return cmd
}

type timestamp interface{ AsTime() time.Time }

func summarize(id, runID string, status enumspb.WorkflowExecutionStatus, start time.Time, closeTS timestamp, attrs map[string]string) RunSummary {
	s := RunSummary{WorkflowID: id, RunID: runID, Kind: attrs["IdpKind"], Stage: attrs["IdpStage"],
		Environment: attrs["IdpEnvironment"], Service: attrs["IdpService"], Version: attrs["IdpVersion"],
		Status: strings.ToLower(strings.TrimPrefix(status.String(), "WORKFLOW_EXECUTION_STATUS_")), StartTime: start,
		Preview: attrs["IdpPreview"]}
	if t, err := time.Parse(time.RFC3339, attrs["IdpExpiresAt"]); err == nil {
		s.ExpiresAt = &t
	}
	if closeTS != nil {
		if t := closeTS.AsTime(); !t.IsZero() && t.Unix() > 0 {
			s.CloseTime = &t
		}
	}
	return s
}

// keywords decodes the Keyword search attributes of a listed run.
func keywords(fields map[string]*commonpb.Payload) map[string]string {
	out := map[string]string{}
	dc := converter.GetDefaultDataConverter()
	for k, p := range fields {
		var s string
		if dc.FromPayload(p, &s) == nil {
			out[k] = s
		}
	}
	return out
}

// staticDetails is what the Web UI shows as a run's details, fixed at its start: how to follow
// it from a terminal. Where it stands and what it waits for are its current details.
func staticDetails(id string) string {
	return fmt.Sprintf("Follow it: `starter watch %s`\n\nIts status document: `starter status %s -o json`", id, id)
}
