package config

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// DefaultDriftInterval is how often an env is checked for drift when idp.yaml does not say.
const DefaultDriftInterval = 6 * time.Hour

// Drift is an env's drift check schedule: `drift: {every: 6h}`, or `drift: off` (also
// `every: off` or `every: 0`) for none. Without it the env is checked every 6h.
type Drift struct {
	// Every is the interval between checks; 0 after defaults means off.
	Every Duration `yaml:"every" json:"every"`
	// set says idp.yaml gave an interval (0 included), so defaults leave it.
	set bool
}

// Enabled reports whether the env has a drift schedule.
func (d Drift) Enabled() bool { return d.Every > 0 }

// UnmarshalYAML reads `off`, or a mapping with every: DURATION|off.
func (d *Drift) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Value == "off" {
		*d = Drift{set: true}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: drift must be off or a mapping such as {every: 6h}", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value != "every" {
			return fmt.Errorf("line %d: field %s not found in drift (it has: every)", k.Line, k.Value)
		}
		d.set = true
		if v.Value == "off" {
			d.Every = 0
			continue
		}
		if err := d.Every.UnmarshalYAML(v); err != nil {
			return fmt.Errorf("line %d: drift.every: %w", v.Line, err)
		}
	}
	return nil
}

func (d *Drift) applyDefaults() {
	if !d.set && d.Every == 0 {
		d.Every = Duration(DefaultDriftInterval)
	}
}

func (d Drift) validate(p string, bad func(string, string, ...any)) {
	if d.Every < 0 || (d.Every > 0 && d.Every.Std() < time.Minute) {
		bad(p+".drift.every", "must be at least 1m, or off, got %s", d.Every.Std())
	}
}
