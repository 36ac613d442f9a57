package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

// members parses a train's --service SVC=TAG flags, reporting every problem at once.
func (o promoteOptions) members() ([]api.TrainMember, error) {
	var errs []error
	if !policy.ValidTag(o.train) {
		errs = append(errs, fmt.Errorf("--train %q is not a valid name: letters, digits, '_', '.' and '-', starting with a letter, digit or '_' (it names the run train-NAME, e.g. --train release-42)", o.train))
	}
	if o.tag != "" {
		errs = append(errs, errors.New("--tag does not go with --train: give each service its tag as --service SVC=TAG"))
	}
	if o.supersede {
		errs = append(errs, errors.New("--supersede does not go with --train: a train does not step aside, and does not ask others to"))
	}
	var out []api.TrainMember
	seen := map[string]string{}
	for _, s := range o.services {
		svc, tag, ok := strings.Cut(s, "=")
		svc, tag = strings.TrimSpace(svc), strings.TrimSpace(tag)
		switch {
		case !ok || svc == "" || tag == "":
			errs = append(errs, fmt.Errorf("--service %q: with --train, give SVC=TAG (e.g. --service time-service=v1.2.3)", s))
		case !policy.ValidTag(tag):
			errs = append(errs, fmt.Errorf("--service %q: %q is not a valid image tag: letters, digits, '_', '.' and '-', starting with a letter, digit or '_', at most 128 characters", s, tag))
		case seen[svc] != "":
			errs = append(errs, fmt.Errorf("--service %s is given twice (%s=%s and %s): a train takes one tag per service", svc, svc, seen[svc], s))
		default:
			seen[svc] = tag
			out = append(out, api.TrainMember{Service: svc, Tag: tag})
		}
	}
	if len(o.services) < 2 {
		errs = append(errs, errors.New("a train moves several services together: give --service SVC=TAG at least twice (for one service, use --service SVC --tag TAG)"))
	}
	errs = append(errs, o.sign.validate())
	return out, errors.Join(errs...)
}

// trainPath is the envs every member goes through; members whose tags would take them
// through different envs (or an unknown service) are refused.
func trainPath(cfg *config.Config, members []api.TrainMember, to string) ([]string, error) {
	var errs []error
	var first []string
	routes, same := []string{}, true
	for _, m := range members {
		path, err := policy.Path(cfg, policy.Input{Service: m.Service, Tag: m.Tag, To: to})
		if err != nil {
			errs = append(errs, fmt.Errorf("--service %s=%s: %w", m.Service, m.Tag, err))
			continue
		}
		names := make([]string, 0, len(path))
		for _, e := range path {
			names = append(names, e.Name)
		}
		if first == nil {
			first = names
		}
		same = same && strings.Join(names, ",") == strings.Join(first, ",")
		routes = append(routes, m.Service+" "+m.Tag+": "+strings.Join(names, " → "))
	}
	if !same {
		errs = append(errs, fmt.Errorf("the services would go through different envs (%s): give tags that enter the same env (all sha-… or all vX.Y.Z)", strings.Join(routes, "; ")))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return first, nil
}

// startTrain starts train-<name> for o, checked and signed as a promotion is.
func (g *globals) startTrain(cmd *cobra.Command, o promoteOptions) error {
	members, err := o.members()
	if err != nil {
		return badInput(err)
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	names, err := trainPath(cfg, members, o.to)
	if err != nil {
		return badInput(err)
	}
	who, err := g.requester()
	if err != nil {
		return err
	}
	tags := map[string]string{}
	for _, m := range members {
		tags[m.Service] = m.Tag
	}
	if err := g.checkTags(cmd.Context(), cfg, tags); err != nil {
		return err
	}
	var listed []string
	for _, m := range members {
		mo := o
		mo.service, mo.tag = m.Service, m.Tag
		if err := g.pins(cmd.Context(), cfg, mo, names, who); err != nil {
			return err
		}
		listed = append(listed, m.Service+" "+m.Tag)
	}
	id := api.TrainID(o.train)
	in := api.TrainInput{Name: o.train, Members: members, To: o.to, Requester: who, SignedAt: g.signingTime()}
	if in.Signature, in.SignedAt, err = g.signRequest(o.sign, cfg, who, in.Statement(id)); err != nil {
		return err
	}
	return g.start(cmd.Context(), startRequest{
		id:       id,
		workflow: api.TrainWorkflowName,
		input:    in,
		attrs: []temporal.SearchAttributeUpdate{api.AttrKind.ValueSet(api.KindTrain),
			api.AttrVersion.ValueSet(o.train), api.AttrEnvironment.ValueSet(names[0])},
		summary: fmt.Sprintf("train %s: %s to %s (by %s)", o.train, strings.Join(listed, ", "), names[len(names)-1], who),
		who:     who,
		route:   ": " + strings.Join(names, " → "),
		wait:    o.wait,
	})
}

// printTrain shows a train's members: what its one approval per env covers, and where each is.
func printTrain(w io.Writer, t *api.TrainStatus) {
	if t == nil {
		return
	}
	fmt.Fprintf(w, "train:        %s, approvals bind to %s (sha256 of the sorted service@digest lines)\n", t.Name, t.Subject)
	for _, m := range t.Members {
		fmt.Fprintf(w, "  %s %s %s\n", m.Service, m.Tag, m.Digest)
		for _, e := range m.Environments {
			fmt.Fprintf(w, "    %-10s %s %s %s\n", e.Name, e.State, e.Image, e.Commit)
		}
	}
}
