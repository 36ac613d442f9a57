package config

import (
	"fmt"
	"slices"
	"strings"
)

// NotifyTarget is one webhook an env's events are posted to. The URL itself is a secret
// (a Slack incoming webhook URL carries its token), so idp.yaml only names where the worker
// finds it; the notify activity resolves it when it posts, and it never enters a run's
// snapshot, history or logs.
type NotifyTarget struct {
	// Name identifies the target in status lines and errors (default: format and index).
	Name string `yaml:"name" json:"name,omitempty"`
	// Format is "slack" (a {"text", "blocks"} message an incoming webhook accepts) or "json"
	// (the event's fields, for anything else). Default "slack".
	Format string `yaml:"format" json:"format,omitempty"`
	// URLFrom says where the webhook URL is: "env:NAME" (the worker's environment variable
	// NAME) or "file:PATH" (a file holding the URL, e.g. a mounted Secret).
	URLFrom string `yaml:"urlFrom" json:"urlFrom"`
	// Events, when set, limits the target to these event types (see NotifyEvents).
	Events []string `yaml:"events" json:"events,omitempty"`
}

// Notification formats.
const (
	NotifySlack = "slack"
	NotifyJSON  = "json"
)

// NotifyEvents are the event types a target can ask for.
var NotifyEvents = []string{
	"approval_requested", "approval_reminder", "approved", "rejected", "expired",
	"promoted", "rolled_back", "promotion_failed",
	"bootstrap_done", "bootstrap_failed", "frozen", "unfrozen", "drift", "destroyed", "destroy_failed",
}

// Wants reports whether the target takes events of type typ.
func (t NotifyTarget) Wants(typ string) bool {
	return len(t.Events) == 0 || slices.Contains(t.Events, typ)
}

// URLSource splits URLFrom into its kind ("env" or "file") and the name or path.
func (t NotifyTarget) URLSource() (kind, ref string, err error) {
	kind, ref, ok := strings.Cut(t.URLFrom, ":")
	if !ok || ref == "" || (kind != "env" && kind != "file") {
		return "", "", fmt.Errorf("urlFrom must be env:VARIABLE or file:PATH, got %q (never the URL itself: it is a secret)", t.URLFrom)
	}
	return kind, ref, nil
}

// validateNotify checks env e's notify targets and the reminders of its gates.
func validateNotify(p string, e Environment, bad func(string, string, ...any)) {
	names := map[string]bool{}
	for i, t := range e.Notify {
		tp := fmt.Sprintf("%s.notify[%d]", p, i)
		if t.Format != "" && t.Format != NotifySlack && t.Format != NotifyJSON {
			bad(tp+".format", "must be %q or %q, got %q", NotifySlack, NotifyJSON, t.Format)
		}
		if strings.HasPrefix(t.URLFrom, "http://") || strings.HasPrefix(t.URLFrom, "https://") {
			bad(tp+".urlFrom", "holds a URL: webhook URLs are secrets; put it in an environment variable or file and write env:NAME or file:PATH")
		} else if _, _, err := t.URLSource(); err != nil {
			bad(tp+".urlFrom", "%v", err)
		}
		for j, ev := range t.Events {
			if !slices.Contains(NotifyEvents, ev) {
				bad(fmt.Sprintf("%s.events[%d]", tp, j), "unknown event %q (known: %s)", ev, strings.Join(NotifyEvents, ", "))
			}
		}
		if t.Name != "" && names[t.Name] {
			bad(tp+".name", "duplicates another target's name %q", t.Name)
		}
		names[t.Name] = true
	}
	for _, g := range []struct {
		path string
		a    Approval
	}{{p + ".bootstrap.planApproval", e.Bootstrap.PlanApproval}, {p + ".promotion.approval", e.Promotion.Approval}} {
		if r := g.a.RemindAfter; r < 0 || (r > 0 && r >= g.a.Expiry) {
			bad(g.path+".remindAfter", "must be positive and shorter than expiry (%s), got %s", g.a.Expiry.Std(), r.Std())
		}
	}
}

// TargetName is the target's name, or "<format>#<index>" when it has none.
func (t NotifyTarget) TargetName(i int) string {
	if t.Name != "" {
		return t.Name
	}
	f := t.Format
	if f == "" {
		f = NotifySlack
	}
	return fmt.Sprintf("%s#%d", f, i)
}
