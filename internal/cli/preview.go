package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/workflows/api"
)

// previewFlags are bootstrap's options for a pull request's preview.
type previewFlags struct {
	pr     int
	ttl    time.Duration
	branch string
}

func (p *previewFlags) register(cmd *cobra.Command) {
	cmd.Flags().IntVar(&p.pr, "pr", 0, "bootstrap this pull request's preview of the env (<env>-pr-<N>)")
	cmd.Flags().DurationVar(&p.ttl, "ttl", 0, "how long the preview lives once up (default 72h); again on a live preview: expire that long from now")
	cmd.Flags().StringVar(&p.branch, "branch", "", "the pull request's head branch (default: asked from GitHub, else refs/pull/<N>/head)")
}

func (p previewFlags) validate() error {
	var errs []error
	if p.pr < 0 {
		errs = append(errs, fmt.Errorf("--pr must be a pull request number above 0, got %d", p.pr))
	}
	if p.pr == 0 && (p.ttl != 0 || p.branch != "") {
		errs = append(errs, errors.New("--ttl and --branch are for previews: add --pr N"))
	}
	if p.ttl < 0 || (p.ttl > 0 && p.ttl < time.Minute) {
		errs = append(errs, fmt.Errorf("--ttl must be at least 1m (e.g. 72h), got %s", p.ttl))
	}
	if strings.ContainsAny(p.branch, " \t\n~^:?*[\\") {
		errs = append(errs, fmt.Errorf("--branch %q is not a Git branch name", p.branch))
	}
	return errors.Join(errs...)
}

// input makes a bootstrap request the preview's, under the preview's workflow ID.
func (p previewFlags) input(in *api.BootstrapInput, id *string) {
	if p.pr == 0 {
		return
	}
	in.PR, in.TTL, in.Branch = p.pr, p.ttl, p.branch
	*id = api.PreviewID(in.Env, p.pr)
}

// request makes a bootstrap start the preview's: searchable by IdpPreview (and
// IdpEnvironment, the preview's name), and, on a preview already live, an extend of its TTL
// when --ttl is given (without it, a second start is refused as for any running bootstrap).
func (p previewFlags) request(out io.Writer, r startRequest, in api.BootstrapInput) startRequest {
	if p.pr == 0 {
		return r
	}
	name := config.PreviewName(in.Env, in.PR)
	r.attrs = []temporal.SearchAttributeUpdate{api.AttrKind.ValueSet(api.KindBootstrap),
		api.AttrEnvironment.ValueSet(name), api.AttrPreview.ValueSet(name)}
	r.summary = fmt.Sprintf("preview %s of pull request %d (by %s)", name, in.PR, in.Requester)
	if p.ttl > 0 {
		r.attach = func(ctx context.Context, c client.Client, runID string) error {
			if err := c.SignalWorkflow(ctx, r.id, runID, api.ExtendSignal, api.ExtendInput{TTL: p.ttl, Who: in.Requester}); err != nil {
				return fmt.Errorf("extending %s: %w", r.id, err)
			}
			fmt.Fprintf(out, "%s is live: asked it to expire %s from now\n", r.id, p.ttl)
			return nil
		}
	}
	return r
}

// previewUp says, for a preview's run that has bootstrapped the preview, that it is up and
// until when; "" for any other run or state.
func previewUp(st api.Status) string {
	p := st.Preview
	if p == nil || p.ExpiresAt == nil || st.Stage != api.StageDone || p.Destroy != "" {
		return ""
	}
	return fmt.Sprintf("%s: preview %s is up; it expires at %s (extend: starter bootstrap --env %s --pr %d --ttl DURATION)",
		st.WorkflowID, p.Env, p.ExpiresAt.UTC().Format(time.RFC3339), p.Base, p.PR)
}

// printPreview prints a preview's part of the status: what it is and when it expires.
func printPreview(w io.Writer, p *api.PreviewStatus) {
	if p == nil {
		return
	}
	fmt.Fprintf(w, "preview:      %s of %s, pull request %d at %s\n", p.Env, p.Base, p.PR, p.Branch)
	switch {
	case p.Destroy != "":
		fmt.Fprintf(w, "ended:        destroyed by %s\n", p.Destroy)
	case p.ExpiresAt != nil:
		fmt.Fprintf(w, "expires at:   %s\n", p.ExpiresAt.UTC().Format(time.RFC3339))
	}
}

// printPreviews prints live previews with the time each has left; one still bootstrapping
// has no expiry yet.
func printPreviews(w io.Writer, output string, runs []RunSummary, now time.Time) error {
	for i := range runs {
		if e := runs[i].ExpiresAt; e != nil {
			runs[i].TTLLeft = e.Sub(now).Round(time.Minute).String()
			if e.Before(now) {
				runs[i].TTLLeft = "expired"
			}
		}
	}
	if output == "json" {
		return printJSON(w, runs)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PREVIEW\tWORKFLOW ID\tSTAGE\tEXPIRES AT\tTTL LEFT")
	for _, r := range runs {
		expires, left := "-", "bootstrapping"
		if r.ExpiresAt != nil {
			expires, left = r.ExpiresAt.UTC().Format(time.RFC3339), r.TTLLeft
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Preview, r.WorkflowID, r.Stage, expires, left)
	}
	return tw.Flush()
}
