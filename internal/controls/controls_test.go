package controls

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/config"
)

func TestFreezesExpireAndDescribeThemselves(t *testing.T) {
	now := time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC)
	soon, later := now.Add(time.Hour), now.Add(3*time.Hour)
	past := now.Add(-time.Minute)
	fs := []Freeze{{Who: "alice", Reason: "release", Until: &later}, {Who: "bob", Reason: "incident"}, {Who: "carol", Reason: "old", Until: &past}, {Who: "dave", Reason: "x", Until: &soon}}
	active := Active(fs, now)
	require.Len(t, active, 3)
	require.Equal(t, soon, NextExpiry(active))
	require.True(t, NextExpiry(active[1:2]).IsZero(), "a freeze without --until never expires")
	require.Equal(t, "frozen by alice until 2026-11-30T18:00:00Z: release; frozen by bob until unfrozen: incident", Describe(active[:2]))
}

func TestTheStatementBindsWhatIsAsked(t *testing.T) {
	until := time.Date(2026, 11, 30, 18, 0, 0, 0, time.UTC)
	freeze := Request{Env: "prod", Who: "alice", Reason: "party", Until: &until, All: true}.Statement(OpFreeze)
	require.Equal(t, "controls-prod", freeze.WorkflowID)
	require.Equal(t, "prod", freeze.Subject)
	require.Equal(t, "party\nuntil: 2026-11-30T18:00:00Z\nall: true", freeze.Comment, "a later --until is another statement")
	pin := Request{Env: "prod", Who: "alice", Service: "time-service", Tag: "v1.2.3", Reason: "hold"}.Statement(OpPin)
	require.Equal(t, []string{"pin", "time-service:v1.2.3"}, []string{pin.Decision, pin.Subject})
}

func TestCheckNamesEveryProblem(t *testing.T) {
	now := time.Now()
	err := Request{Env: "prod", Until: &now}.Check(OpFreeze, now)
	require.ErrorContains(t, err, "names nobody")
	require.ErrorContains(t, err, "needs a reason")
	require.ErrorContains(t, err, "is not in the future")
	require.ErrorContains(t, Request{Env: "prod", Who: "alice"}.Check(OpUnpin, now), "names a service")
	require.ErrorContains(t, Request{Env: "prod", Who: "alice", Run: "promote-x", Service: "s", Reason: "r"}.Check(OpPin, now), "only idp's own rollback pins name a run")
	require.NoError(t, Request{Env: "prod", Who: System, Run: "promote-x", Service: "s", Reason: "r"}.Check(OpPin, now))
}

func TestRulesFollowTheEnvsGates(t *testing.T) {
	cfg := &config.Config{
		People: map[string]config.Person{"alice": {Keys: []string{"k1"}}, "bob": {}, "carol": {}},
		Groups: map[string][]string{"rm": {"alice", "bob"}},
		Environments: []config.Environment{
			{Name: "dev"},
			{Name: "prod", Promotion: config.Promotion{Approval: config.Approval{Approvers: []string{"@rm"}, RequireSignatures: true}}},
		},
	}
	dev := RulesFor(cfg, "dev")
	require.Equal(t, []string{"alice", "bob", "carol"}, dev.Names(), "an env that lists nobody: everyone under people:")
	require.False(t, dev.RequireSignatures)
	prod := RulesFor(cfg, "prod")
	require.Equal(t, []string{"alice", "bob"}, prod.Names())
	require.True(t, prod.RequireSignatures)
	require.Equal(t, []string{"k1"}, prod.Find(" Alice ").Keys)
	require.Nil(t, prod.Find("carol"))
	require.False(t, RulesFor(cfg, "qa").Known)
}

// The door lets a run through while nothing is frozen, and a pinned service's run at any time
// (it is refused there anyway); a frozen env keeps the rest out and says why.
func TestTheDoorPassesOpenOrPinned(t *testing.T) {
	freezes := []Freeze{{Who: "alice", Reason: "release"}}
	pin := &Pin{Service: "time-service", Tag: "v1.2.3"}

	open := Answer("prod", nil, nil)
	require.True(t, open.Open)
	require.Empty(t, open.Freezes)
	require.True(t, open.Passes("time-service"))
	require.True(t, open.Passes(""), "a bootstrap passes an open door")

	shut := Answer("prod", freezes, nil)
	require.False(t, shut.Open)
	require.Equal(t, freezes, shut.Freezes, "a shut door says which freezes hold it")
	require.False(t, shut.Passes("time-service"))
	require.False(t, shut.Passes(""))

	pinned := Answer("prod", freezes, pin)
	require.False(t, pinned.Open)
	require.True(t, pinned.Passes("time-service"), "a pinned service's run goes on, to be refused")
	require.Same(t, pin, pinned.Pin)
	require.True(t, Answer("prod", nil, pin).Passes("time-service"))
}
