package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/internal/policy"
)

const controlsWho = `Who may: the people idp.yaml lists for the env (its promotion and plan approvers, groups
resolved), or everyone under people: where the env lists nobody. The request is signed as
promote's is (--key, $IDP_SIGNING_KEY, $IDP_KEYS_DIR/<name>, or an ssh-agent key listed for
you); where any of the env's gates requires signatures, an unsigned one is refused.`

type freezeOptions struct {
	target controlTarget
	reason string
	until  string
	list   bool
	output string
	sign   signFlags
	// untilAt is --until parsed.
	untilAt *time.Time
}

func (o *freezeOptions) validate(now time.Time) error {
	if o.list {
		return outputFlag(o.output)
	}
	var errs []error
	errs = append(errs, o.target.validate())
	if strings.TrimSpace(o.reason) == "" {
		errs = append(errs, errors.New("--reason is required: say why, people waiting at the door read it"))
	}
	if o.until != "" {
		t, err := parseUntil(o.until, now)
		errs = append(errs, err)
		if err == nil {
			o.untilAt = &t
		}
	}
	errs = append(errs, o.sign.validate())
	return errors.Join(errs...)
}

func outputFlag(o string) error {
	if o != "" && o != "json" && o != "text" {
		return fmt.Errorf("-o must be json or text, got %q", o)
	}
	return nil
}

func newFreezeCmd(g *globals) *cobra.Command {
	var o freezeOptions
	cmd := &cobra.Command{
		Use:   "freeze --env ENV | --all --reason TEXT [--until TIME] [--key FILE | --no-sign]",
		Short: "Stop the line: promotions and bootstraps wait at the env's door until it is unfrozen",
		Long: `freeze stops runs at an environment's door at once, on every worker: a promotion or
bootstrap that reaches it waits (status and the Web UI say who froze it, until when and why)
and goes on when the freeze lifts, by unfreeze or at --until. Runs already past the door
finish. --until takes an RFC 3339 time, a UTC clock time (18:00: the next one) or a duration
(2h). Freezing again replaces your own freeze. --list shows every env's freezes and pins.

` + controlsWho,
		Example: `  starter freeze --env prod --reason "release party" --until 18:00
  starter freeze --all --reason "incident 4711: stop the line"
  starter freeze --list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(g.now()); err != nil {
				return badInput(err)
			}
			if o.list {
				return listControls(cmd, g, o.output)
			}
			return changeControls(cmd, g, o.target, o.sign, controls.OpFreeze, controls.Request{Reason: o.reason, Until: o.untilAt, All: o.target.all})
		},
	}
	cmd.Flags().StringVar(&o.target.env, "env", "", "environment to freeze")
	cmd.Flags().BoolVar(&o.target.all, "all", false, "freeze every environment idp.yaml lists")
	cmd.Flags().StringVar(&o.reason, "reason", "", "why (required)")
	cmd.Flags().StringVar(&o.until, "until", "", "when the freeze lifts by itself (default: when someone unfreezes)")
	cmd.Flags().BoolVar(&o.list, "list", false, "show every environment's freezes and pins")
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "with --list: text or json")
	o.sign.register(cmd)
	return cmd
}

func newFreezesCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "freezes [-o json]",
		Short:   "Show every environment's freezes and pins (same as freeze --list)",
		Example: "  starter freezes\n  starter freezes -o json | jq '.[] | select(.freezes != [])'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := outputFlag(output); err != nil {
				return badInput(err)
			}
			return listControls(cmd, g, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

type unfreezeOptions struct {
	target controlTarget
	sign   signFlags
}

func newUnfreezeCmd(g *globals) *cobra.Command {
	var o unfreezeOptions
	cmd := &cobra.Command{
		Use:   "unfreeze --env ENV | --all [--key FILE | --no-sign]",
		Short: "Lift every freeze of the env; runs waiting at its door go on",
		Long:  "unfreeze lifts every freeze of the environment (or of each, with --all).\n\n" + controlsWho,
		Example: `  starter unfreeze --env prod
  starter unfreeze --all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := errors.Join(o.target.validate(), o.sign.validate()); err != nil {
				return badInput(err)
			}
			return changeControls(cmd, g, o.target, o.sign, controls.OpUnfreeze, controls.Request{})
		},
	}
	cmd.Flags().StringVar(&o.target.env, "env", "", "environment to unfreeze")
	cmd.Flags().BoolVar(&o.target.all, "all", false, "unfreeze every environment that is frozen")
	o.sign.register(cmd)
	return cmd
}

type pinOptions struct {
	service, env, tag, reason string
	unpin                     bool
	sign                      signFlags
}

func (o pinOptions) validate() error {
	var errs []error
	if o.service == "" {
		errs = append(errs, errors.New("--service is required (e.g. --service time-service)"))
	}
	if o.env == "" {
		errs = append(errs, errors.New("--env is required (e.g. --env prod)"))
	}
	if o.tag != "" && !policy.ValidTag(o.tag) {
		errs = append(errs, fmt.Errorf("--tag %q is not a valid image tag (e.g. v1.2.3)", o.tag))
	}
	if !o.unpin && strings.TrimSpace(o.reason) == "" {
		errs = append(errs, errors.New("--reason is required: say why, whoever promotes next reads it"))
	}
	errs = append(errs, o.sign.validate())
	return errors.Join(errs...)
}

func newPinCmd(g *globals, unpin bool) *cobra.Command {
	o := pinOptions{unpin: unpin}
	cmd := &cobra.Command{
		Use:   "pin --service SVC --env ENV [--tag TAG] --reason TEXT [--key FILE | --no-sign]",
		Short: "Hold a service in an env: promotions into it are refused until unpin",
		Long: `pin holds a service in an environment on what it runs (--tag records what that is): a
promotion into it is refused with the pin's reason, unless promote --unpin lifts it, and the
image watch leaves it alone. idp pins a service itself after rolling it back in an env.

` + controlsWho,
		Example: `  starter pin --service time-service --env prod --tag v1.2.3 --reason "v1.2.4 breaks billing"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return badInput(err)
			}
			op := controls.OpPin
			if o.unpin {
				op = controls.OpUnpin
			}
			return changeControls(cmd, g, controlTarget{env: o.env}, o.sign, op, controls.Request{Service: o.service, Tag: o.tag, Reason: o.reason})
		},
	}
	if unpin {
		cmd.Use = "unpin --service SVC --env ENV [--key FILE | --no-sign]"
		cmd.Short = "Lift a service's pin in an env: promotions into it go again"
		cmd.Long = "unpin lifts the service's pin in the environment, manual or left by a rollback.\n\n" + controlsWho
		cmd.Example = "  starter unpin --service time-service --env dev"
	} else {
		cmd.Flags().StringVar(&o.tag, "tag", "", "what the service is held on (recorded with the pin)")
		cmd.Flags().StringVar(&o.reason, "reason", "", "why (required)")
	}
	cmd.Flags().StringVar(&o.service, "service", "", "service to hold")
	cmd.Flags().StringVar(&o.env, "env", "", "environment")
	o.sign.register(cmd)
	return cmd
}

// changeControls sends one change to each env of target, as the current identity.
func changeControls(cmd *cobra.Command, g *globals, target controlTarget, sign signFlags, op string, tmpl controls.Request) error {
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	envs, err := target.envs(cfg)
	if err != nil {
		return badInput(err)
	}
	who, err := g.requester()
	if err != nil {
		return err
	}
	for _, env := range envs {
		if err := allowed(cfg, env, who, op); err != nil {
			return badInput(err)
		}
	}
	c, err := g.client()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := cmd.Context()
	for _, env := range envs {
		if op == controls.OpUnfreeze && target.all {
			st, err := controls.Get(ctx, c, env)
			if err != nil {
				return err
			}
			if len(st.Freezes) == 0 {
				continue // --all lifts what there is
			}
		}
		req := tmpl
		req.Env, req.Who = env, who
		res, err := g.sendControl(ctx, c, cfg, sign, op, req)
		if err != nil {
			return err
		}
		fmt.Fprintf(g.out, "%s: %s\n", env, res.Message)
	}
	return nil
}

func listControls(cmd *cobra.Command, g *globals, output string) error {
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	c, err := g.client()
	if err != nil {
		return err
	}
	defer c.Close()
	states, err := controlsState(cmd.Context(), c, cfg)
	if err != nil {
		return err
	}
	if output == "json" {
		return printJSON(g.out, states)
	}
	printControls(g, states)
	return nil
}
