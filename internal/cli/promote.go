package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

type promoteOptions struct {
	service string
	// services are the --service flags as given: one SVC, or with --train several SVC=TAG.
	services  []string
	train     string
	tag       string
	to        string
	supersede bool
	unpin     bool
	wait      bool
	sign      signFlags
}

func (o promoteOptions) validate() error {
	var errs []error
	if len(o.services) > 1 {
		errs = append(errs, errors.New("--service is given more than once: to move several services together, use --train NAME --service SVC=TAG (once per service)"))
	} else if strings.Contains(o.service, "=") {
		errs = append(errs, fmt.Errorf("--service %q looks like SVC=TAG, which only --train takes: for one service give --service SVC --tag TAG", o.service))
	}
	if o.service == "" {
		errs = append(errs, errors.New("--service is required (e.g. --service time-service)"))
	}
	if o.tag == "" {
		errs = append(errs, errors.New("--tag is required (e.g. --tag sha-1a2b3c4 or --tag v1.2.3)"))
	} else if !policy.ValidTag(o.tag) {
		// The tag becomes part of the workflow ID promote-<service>-<tag> and of branch names:
		// only OCI tags, so it cannot smuggle in '/', ':' or whitespace.
		errs = append(errs, fmt.Errorf("--tag %q is not a valid image tag: letters, digits, '_', '.' and '-', starting with a letter, digit or '_', at most 128 characters (e.g. v1.2.3)", o.tag))
	}
	errs = append(errs, o.sign.validate())
	return errors.Join(errs...)
}

// promoteLong is promote's --help.
const promoteLong = `promote starts promote-<service>-<tag>. The tag must match an environment's entry
pattern (sha-* enters dev, vX.Y.Z enters staging); it is resolved to its digest, which every
later step and approval binds to. Without --to, the promotion goes as far as policy allows
without a person; with --to it goes there, waiting for approvals where policy asks.

The request is signed as for bootstrap (--key, $IDP_SIGNING_KEY, $IDP_KEYS_DIR/<name>, or
an ssh-agent key listed for you); the statement binds the run, --to as given (empty when
not given), the subject <service>:<tag>, "supersede" when asked, and the time. Without a
key (CI) the request goes unsigned and is recorded as such.

A promotion into an env where the service is pinned (starter pin, or a rollback) is refused
with the pin's reason (exit 2, nothing started); --unpin lifts those pins first, as
starter unpin would (so you must be allowed to).

With --train NAME, several services move together as train-NAME: each --service SVC=TAG
is resolved to its digest; in each env the (service, env) locks are taken in service order,
one approval covers every digest (its subject is a sha256 over the sorted service@digest
list, shown in status), and if one service does not become Healthy there, every service of
the train is rolled back in that env and the train stops.`

func newPromoteCmd(g *globals) *cobra.Command {
	var o promoteOptions
	cmd := &cobra.Command{
		Use:   "promote --service SVC --tag TAG [--to ENV] [--supersede] [--unpin] [--wait] [--key FILE | --no-sign]",
		Short: "Promote an image through the environments, verified by Argo CD",
		Long:  promoteLong,
		Example: `  starter promote --service time-service --tag sha-1a2b3c4 --wait
  starter promote --service time-service --tag v1.2.3 --to prod --as alice
  starter promote --service time-service --tag v1.2.4 --to prod --supersede
  starter promote --train release-42 --service time-service=v1.2.3 --service version-service=v2.0.1 --to prod`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.train != "" || cmd.Flags().Changed("train") {
				return g.startTrain(cmd, o)
			}
			if len(o.services) > 0 {
				o.service = o.services[0]
			}
			if err := o.validate(); err != nil {
				return badInput(err)
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			path, err := policy.Path(cfg, policy.Input{Service: o.service, Tag: o.tag, To: o.to})
			if err != nil {
				return badInput(err)
			}
			who, err := g.requester()
			if err != nil {
				return err
			}
			names := make([]string, 0, len(path))
			for _, e := range path {
				names = append(names, e.Name)
			}
			id := api.PromoteID(o.service, o.tag)
			in := api.PromoteInput{Service: o.service, Tag: o.tag, To: o.to, Requester: who, Supersede: o.supersede,
				SignedAt: g.signingTime()}
			if err := g.checkTags(cmd.Context(), cfg, map[string]string{o.service: o.tag}); err != nil {
				return err
			}
			if err := g.pins(cmd.Context(), cfg, o, names, who); err != nil {
				return err
			}
			if in.Signature, in.SignedAt, err = g.signRequest(o.sign, cfg, who, in.Statement(id)); err != nil {
				return err
			}
			return g.start(cmd.Context(), startRequest{
				id:       id,
				workflow: api.PromoteWorkflowName,
				input:    in,
				attrs: []temporal.SearchAttributeUpdate{api.AttrKind.ValueSet(api.KindPromote),
					api.AttrService.ValueSet(o.service), api.AttrVersion.ValueSet(o.tag),
					api.AttrEnvironment.ValueSet(path[0].Name)},
				summary: fmt.Sprintf("promote %s %s to %s (by %s)", o.service, o.tag, names[len(names)-1], who),
				who:     who,
				route:   ": " + strings.Join(names, " → "),
				wait:    o.wait,
				attach:  attachWatched(g, cfg, o, names[len(names)-1]),
			})
		},
	}
	o.register(cmd)
	return cmd
}

func (o *promoteOptions) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&o.services, "service", nil, "service to promote (as in tooling.repositories); with --train, SVC=TAG, once per service")
	cmd.Flags().StringVar(&o.train, "train", "", "release train NAME: move every --service SVC=TAG together (run train-NAME)")
	cmd.Flags().StringVar(&o.tag, "tag", "", "image tag to promote")
	cmd.Flags().StringVar(&o.to, "to", "", "last environment (default: as far as policy allows without a person)")
	cmd.Flags().BoolVar(&o.supersede, "supersede", false, "cancel an older promotion of this service still waiting for approval")
	cmd.Flags().BoolVar(&o.unpin, "unpin", false, "lift the service's pins in the envs of the path first (refused without it)")
	cmd.Flags().BoolVar(&o.wait, "wait", false, "follow the run and exit with its outcome")
	o.sign.register(cmd)
}
