package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDriftInterval(t *testing.T) {
	tests := []struct {
		name, drift string
		every       time.Duration
		err         string
	}{
		{name: "default", every: 6 * time.Hour},
		{name: "every 2h", drift: "{every: 2h}", every: 2 * time.Hour},
		{name: "off", drift: "off"},
		{name: "every off", drift: "{every: off}"},
		{name: "every 0", drift: "{every: 0s}"},
		{name: "too often", drift: "{every: 10s}", err: "environments[0](dev).drift.every: must be at least 1m, or off, got 10s"},
		{name: "not a duration", drift: "{every: daily}", err: `invalid duration "daily"`},
		{name: "unknown field", drift: "{evry: 6h}", err: "field evry not found in drift (it has: every)"},
		{name: "not a mapping", drift: "6h", err: "drift must be off or a mapping such as {every: 6h}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := minimal
			if tt.drift != "" {
				y += "    drift: " + tt.drift + "\n"
			}
			c, err := Parse([]byte(y))
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			d := c.Environments[0].Drift
			require.Equal(t, tt.every, d.Every.Std())
			require.Equal(t, tt.every > 0, d.Enabled())
		})
	}
}
