package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/alexpermiakov/idp/internal/imagewatch/schedule"
)

func newImageWatchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image-watch enable | disable | status",
		Short: "Resume, pause or show the schedules that promote new images by themselves",
		Long: `The image watch is a Temporal Schedule per service (image-watch-<service>) that lists
the service's tags in the tooling ECR every imageWatch.poll.interval and starts
promote-<service>-<tag> for the newest tag entering an env, unless that env runs a newer
one or a run of that ID exists (an ECR push event may have started it). The worker creates
the schedules at start-up; enable resumes them (creating missing ones), disable pauses them,
status shows each one. Pausing stops the poll only; the event endpoint keeps working.`,
		Example: `  starter image-watch status
  starter image-watch disable --as alice   # e.g. while you promote by hand
  starter image-watch enable --as alice`,
	}
	for _, paused := range []bool{false, true} {
		use, short := "enable", "Resume every service's image watch schedule (creating missing ones)"
		if paused {
			use, short = "disable", "Pause every service's image watch schedule"
		}
		cmd.AddCommand(&cobra.Command{
			Use: use, Short: short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				cfg, err := g.loadConfig()
				if err != nil {
					return err
				}
				c, err := g.client()
				if err != nil {
					return err
				}
				defer c.Close()
				note := fmt.Sprintf("%sd by %s with starter image-watch %s", use, g.identity(), use)
				if err := schedule.SetPaused(cmd.Context(), c.ScheduleClient(), cfg, paused, note); err != nil {
					return err
				}
				fmt.Fprintf(g.out, "image watch %sd for %d services\n", use, len(schedule.Services(cfg)))
				return nil
			},
		})
	}
	cmd.AddCommand(newImageWatchStatusCmd(g))
	return cmd
}

func newImageWatchStatusCmd(g *globals) *cobra.Command {
	var o statusOptions
	status := &cobra.Command{
		Use: "status [-o json]", Short: "Show each service's schedule: paused or not, interval, last and next look", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return badInput(err)
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			defer c.Close()
			sts, err := schedule.Statuses(cmd.Context(), c.ScheduleClient(), cfg)
			if err != nil {
				return err
			}
			if o.output == "json" {
				return printJSON(g.out, sts)
			}
			printWatch(g, sts)
			return nil
		},
	}
	status.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return status
}

func printWatch(g *globals, sts []schedule.Status) {
	tw := tabwriter.NewWriter(g.out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSCHEDULE\tSTATE\tEVERY\tLOOKS\tLAST\tNEXT")
	for _, s := range sts {
		state := "active"
		switch {
		case !s.Exists:
			state = "missing (starter image-watch enable, or start a worker)"
		case s.Paused:
			state = "paused"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.Service, s.Schedule, state, s.Every, s.Actions, when(s.LastRun), when(s.NextRun))
	}
	_ = tw.Flush()
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
