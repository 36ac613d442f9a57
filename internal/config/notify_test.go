package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestValidateNotify(t *testing.T) {
	e := Environment{Name: "prod", Notify: []NotifyTarget{
		{Name: "chat", URLFrom: "env:IDP_SLACK_WEBHOOK"},
		{Name: "chat", Format: "xml", URLFrom: "https://hooks.slack.com/services/T/B/xoxtoken"},
		{URLFrom: "vault:x", Events: []string{"promoted", "deployed"}},
	}}
	e.Promotion.Approval = Approval{Expiry: Duration(time.Hour), RemindAfter: Duration(2 * time.Hour)}
	e.Bootstrap.PlanApproval = Approval{Expiry: Duration(time.Hour), RemindAfter: Duration(30 * time.Minute)}
	var errs []string
	validateNotify("environments[2](prod)", e, func(p, f string, a ...any) { errs = append(errs, p+": "+fmt.Sprintf(f, a...)) })
	all := strings.Join(errs, "\n")
	for _, want := range []string{
		"notify[1].format: must be \"slack\" or \"json\", got \"xml\"",
		"notify[1].urlFrom: holds a URL",
		"notify[1].name: duplicates",
		"notify[2].urlFrom: urlFrom must be env:VARIABLE or file:PATH",
		"notify[2].events[1]: unknown event \"deployed\"",
		"promotion.approval.remindAfter: must be positive and shorter than expiry",
	} {
		require.Contains(t, all, want)
	}
	require.Len(t, errs, 6, all)
	require.NotContains(t, all, "xoxtoken", "the URL is not repeated")
}
