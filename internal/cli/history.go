package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/workflows/api"
)

type historyOptions struct {
	service string
	env     string
	output  string
}

func (o historyOptions) validate() error {
	var errs []error
	if o.service == "" {
		errs = append(errs, errors.New("--service is required: whose history to show"))
	}
	for _, v := range []string{o.service, o.env} {
		if strings.ContainsAny(v, `'"\`) {
			errs = append(errs, fmt.Errorf("invalid filter value %q", v))
		}
	}
	if o.output != "" && o.output != "json" && o.output != "text" {
		errs = append(errs, fmt.Errorf("-o must be json or text, got %q", o.output))
	}
	return errors.Join(errs...)
}

// HistoryEntry is one env a promotion reached: what it put there, how that ended, who
// approved it, and the run that did it.
type HistoryEntry struct {
	Service     string     `json:"service"`
	Tag         string     `json:"tag"`
	Digest      string     `json:"digest,omitempty"`
	Env         string     `json:"env"`
	State       string     `json:"state"`
	Image       string     `json:"image,omitempty"`
	Commit      string     `json:"commit,omitempty"`
	RequestedBy string     `json:"requestedBy,omitempty"`
	ApprovedBy  []string   `json:"approvedBy"`
	WorkflowID  string     `json:"workflowId"`
	RunID       string     `json:"runId"`
	RunStatus   string     `json:"runStatus"`
	StartTime   time.Time  `json:"startTime"`
	CloseTime   *time.Time `json:"closeTime,omitempty"`
	Error       string     `json:"error,omitempty"`
	// Unknown says the run's status could not be queried (no worker answered); only what
	// visibility knows is shown.
	Unknown string `json:"unknown,omitempty"`
}

func newHistoryCmd(g *globals) *cobra.Command {
	var o historyOptions
	cmd := &cobra.Command{
		Use:   "history --service SVC [--env ENV] [-o json]",
		Short: "What ran where, when, by which run, approved by whom",
		Long: `history lists a service's promotions, newest first, one line per env each reached: the tag
and digest, how it ended there, who approved it, and the run. It reads Temporal's visibility
(Promote runs by their IdpService search attribute) and asks each run, closed ones included,
for its status; that needs a worker to answer (runs no worker can answer for are listed from
visibility alone).`,
		Example: "  starter history --service time-service\n  starter history --service time-service --env prod -o json",
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
			entries, err := history(cmd.Context(), c, o)
			if err != nil {
				return err
			}
			if o.output == "json" {
				return printJSON(g.out, entries)
			}
			return printHistory(g, entries)
		},
	}
	cmd.Flags().StringVar(&o.service, "service", "", "the service (as idp.yaml's tooling.repositories names it)")
	cmd.Flags().StringVar(&o.env, "env", "", "only this environment")
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return cmd
}

// history lists the service's Promote runs and turns each into entries, one per env.
func history(ctx context.Context, c client.Client, o historyOptions) ([]HistoryEntry, error) {
	q := fmt.Sprintf("WorkflowType = '%s' AND IdpService = '%s'", api.PromoteWorkflowName, o.service)
	entries := []HistoryEntry{}
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q, NextPageToken: token, PageSize: 100})
		if err != nil {
			return nil, fmt.Errorf("listing promotions of %s: %w", o.service, err)
		}
		for _, e := range resp.Executions {
			s := summarize(e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId(), e.GetStatus(),
				e.GetStartTime().AsTime(), e.GetCloseTime(), keywords(e.GetSearchAttributes().GetIndexedFields()))
			entries = append(entries, runEntries(ctx, c, s, o.env)...)
		}
		if token = resp.NextPageToken; len(token) == 0 {
			break
		}
	}
	return entries, nil
}

// runEntries asks one run for its status and makes an entry of each env in it (only env's,
// when set).
func runEntries(ctx context.Context, c client.Client, s RunSummary, env string) []HistoryEntry {
	base := HistoryEntry{Service: s.Service, Tag: s.Version, Env: s.Environment, WorkflowID: s.WorkflowID, RunID: s.RunID,
		RunStatus: s.Status, StartTime: s.StartTime, CloseTime: s.CloseTime, ApprovedBy: []string{}}
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var st api.Status
	v, err := c.QueryWorkflow(qctx, s.WorkflowID, s.RunID, api.StatusQuery)
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		if env != "" && base.Env != env {
			return nil
		}
		base.State, base.Unknown = "unknown", "status query: "+err.Error()
		return []HistoryEntry{base}
	}
	var out []HistoryEntry
	for _, es := range st.Environments {
		if env != "" && es.Name != env {
			continue
		}
		e := base
		e.Digest, e.Env, e.State, e.Image, e.Commit = st.Digest, es.Name, string(es.State), es.Image, es.Commit
		e.RequestedBy, e.Error = st.Requester, st.Error
		for _, d := range st.Approvals {
			if d.Env == es.Name && d.Decision == "approve" && !slices.Contains(e.ApprovedBy, d.Who) {
				e.ApprovedBy = append(e.ApprovedBy, d.Who)
			}
		}
		out = append(out, e)
	}
	return out
}

func printHistory(g *globals, entries []HistoryEntry) error {
	tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED\tENDED\tENV\tTAG\tSTATE\tAPPROVED BY\tREQUESTED BY\tWORKFLOW\tRUN")
	for _, e := range entries {
		ended := "running"
		if e.CloseTime != nil {
			ended = e.CloseTime.UTC().Format(time.RFC3339)
		}
		approved := strings.Join(e.ApprovedBy, ", ")
		if approved == "" {
			approved = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.StartTime.UTC().Format(time.RFC3339), ended, e.Env, e.Tag,
			e.State, approved, orDash(e.RequestedBy), e.WorkflowID, e.RunID)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
