// Package policy holds idp's promotion rules as pure functions of idp.yaml: which envs a tag
// goes through and with which policy, and the names derived from services and envs. The CLI
// uses it to refuse bad input before anything starts; activities use it to plan a run.
package policy

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/alexpermiakov/idp/internal/config"
)

// Input names what is promoted and how far.
type Input struct {
	Service string `json:"service"`
	Tag     string `json:"tag"`
	// To is the last env; empty means as far as policy allows without a human.
	To string `json:"to,omitempty"`
}

// Env is one env of a promotion's path with the policy that applies there.
type Env struct {
	Name string `json:"name"`
	App  string `json:"app"`
	// Root is the env's app-of-apps, which carries App's definition from Git into the cluster.
	Root          string          `json:"root"`
	Approval      config.Approval `json:"approval"`
	RequirePassed string          `json:"requirePassed,omitempty"`
	Soak          time.Duration   `json:"soak"`
	HealthTimeout time.Duration   `json:"healthTimeout"`
	// Propose lands the change through a branch (a pull request on GitHub) merged after
	// approval, instead of a direct commit.
	Propose bool `json:"propose"`
	// Snapshot is the env as idp.yaml described it when the run planned its path; every
	// activity of the run in this env works from it.
	Snapshot config.Snapshot `json:"snapshot"`
	// PassedSnapshot is RequirePassed's env, where the Passed check looks.
	PassedSnapshot *config.Snapshot `json:"passedSnapshot,omitempty"`
}

// Path is the envs a promotion of in goes through: from the env whose entry pattern
// the tag matches up to in.To, or, without To, up to the last env before one that needs a
// person's approval. The CLI uses it to refuse bad input before anything starts.
func Path(cfg *config.Config, in Input) ([]Env, error) {
	if _, ok := cfg.Tooling.Repositories[in.Service]; !ok {
		return nil, fmt.Errorf("unknown service %q (tooling.repositories lists: %s)", in.Service, strings.Join(sortedKeys(cfg.Tooling.Repositories), ", "))
	}
	entry, reach, err := entryAndReach(cfg, in.Tag)
	if err != nil {
		return nil, err
	}
	last, err := lastEnv(cfg, in, entry, reach)
	if err != nil {
		return nil, err
	}
	var out []Env
	tooling := cfg.Tooling.For(in.Service)
	for _, e := range cfg.Environments[entry : last+1] {
		env := Env{Name: e.Name, App: AppName(in.Service, e.Name), Root: e.ArgoCD.AppOfApps, Approval: e.Promotion.Approval,
			RequirePassed: e.Promotion.RequirePassed, Soak: e.Promotion.Soak.Std(), HealthTimeout: e.Promotion.HealthTimeout.Std(),
			Propose:  e.Promotion.Approval.Required,
			Snapshot: config.Snapshot{Env: e, Repository: cfg.Repository, Tooling: tooling}}
		if r := env.RequirePassed; r != "" {
			if snap, err := cfg.Snapshot(r); err == nil {
				snap.Tooling = tooling
				env.PassedSnapshot = &snap
			}
		}
		out = append(out, env)
	}
	return out, nil
}

// entryAndReach finds the env whose entry pattern the tag matches, and the last env the tag
// may go on to: a tag goes on only into envs that take it, those without an entry pattern of
// their own (prod takes what staging had) or whose pattern it matches.
func entryAndReach(cfg *config.Config, tag string) (entry, reach int, err error) {
	entry = -1
	var patterns []string
	for i, e := range cfg.Environments {
		if e.Promotion.EntryPattern == "" {
			continue
		}
		patterns = append(patterns, e.Name+": "+e.Promotion.EntryPattern)
		if regexp.MustCompile(e.Promotion.EntryPattern).MatchString(tag) {
			entry = i
			break
		}
	}
	if entry < 0 {
		return 0, 0, fmt.Errorf("tag %q matches no environment's entry pattern (%s)", tag, strings.Join(patterns, "; "))
	}
	reach = entry
	for reach+1 < len(cfg.Environments) {
		if p := cfg.Environments[reach+1].Promotion.EntryPattern; p != "" && !regexp.MustCompile(p).MatchString(tag) {
			break
		}
		reach++
	}
	return entry, reach, nil
}

// lastEnv is where the promotion stops: in.To, or without it the last env before one that
// needs a person's approval (the entry env itself when it needs one: go there and wait).
func lastEnv(cfg *config.Config, in Input, entry, reach int) (int, error) {
	if in.To == "" {
		for i := entry; i <= reach; i++ {
			if cfg.Environments[i].Promotion.Approval.Required {
				return max(i-1, entry), nil
			}
		}
		return reach, nil
	}
	to := -1
	for i, e := range cfg.Environments {
		if e.Name == in.To {
			to = i
		}
	}
	switch {
	case to < 0:
		return 0, fmt.Errorf("unknown environment %q for --to (idp.yaml defines: %s)", in.To, strings.Join(cfg.EnvNames(), ", "))
	case to < entry:
		return 0, fmt.Errorf("--to %s comes before %s, where tag %s enters", in.To, cfg.Environments[entry].Name, in.Tag)
	case to > reach:
		return 0, fmt.Errorf("tag %s cannot go to %s: %s only takes tags matching %s", in.Tag, in.To,
			cfg.Environments[reach+1].Name, cfg.Environments[reach+1].Promotion.EntryPattern)
	}
	return to, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
