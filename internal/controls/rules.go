package controls

import (
	"slices"

	"github.com/alexpermiakov/idp/internal/config"
)

// RulesFor says, from idp.yaml, who may freeze, unfreeze, pin and unpin in env: the people its
// gates list (promotion.approval.approvers and bootstrap.planApproval.approvers, groups
// resolved), or, where the env lists nobody (dev), everyone under people:. Signatures are
// required where any of the env's gates requires them. An env idp.yaml lacks is not Known.
func RulesFor(cfg *config.Config, env string) Rules {
	out := Rules{Env: env, People: []Person{}}
	e, err := cfg.Env(env)
	if err != nil {
		return out
	}
	out.Known = true
	names := cfg.Approvers(append(slices.Clone(e.Promotion.Approval.Approvers), e.Bootstrap.PlanApproval.Approvers...))
	if len(names) == 0 {
		for name := range cfg.People {
			names = append(names, name)
		}
		slices.Sort(names)
	}
	for _, n := range names {
		keys := cfg.Keys(n)
		if keys == nil {
			keys = []string{}
		}
		out.People = append(out.People, Person{Name: n, Keys: keys})
	}
	out.RequireSignatures = e.Promotion.Approval.RequireSignatures || e.Bootstrap.PlanApproval.RequireSignatures
	return out
}

// Result is what the freeze, unfreeze, pin and unpin updates return.
type Result struct {
	Message string `json:"message"`
	State   State  `json:"state"`
}
