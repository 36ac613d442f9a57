package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/workflows/api"
)

// The Web UI shows a run's timers, waits and activities by their summaries, and the run's
// current details (run.publish) above its timeline. These build the strings people read there;
// they are metadata of commands, never part of what replay compares, so changing their wording
// needs no workflow.GetVersion.

// approvalSummary names an approval gate's expiry timer, with the command that approves: the
// Web UI's timeline, the page a run opens on, shows it ("approval in prod: 0 of 1, expires
// Nov 30 15:22 UTC · starter approve ID --as USER"). Short enough for the timeline to show
// whole; what is approved (digest, plan) is in the current details.
func approvalSummary(id string, req gateRequest, received int, expires time.Time) string {
	return fmt.Sprintf("approval in %s: %d of %d, expires %s · starter approve %s --as USER",
		req.Env, received, req.Policy.MinApprovals, expires.UTC().Format("Jan 2 15:04 MST"), id)
}

// soakSummary names a soak in env: "soak in staging, 1m30s".
func soakSummary(env string, d time.Duration) string {
	return fmt.Sprintf("soak in %s, %s", env, d)
}

// lockWait is a lock a run waits for: its key and the lock workflow's ID.
type lockWait struct{ key, id string }

// lockSummary names the wait for a (service, env) lock: "waiting for lock time-service/prod".
func lockSummary(key string) string { return "waiting for lock " + key }

// livenessSummary names a lock's timer before it asks whether its holder still runs.
func livenessSummary(holder string, every time.Duration) string {
	return fmt.Sprintf("in %s: is %s still running?", every, holder)
}

// eligible are the people who may still approve pa: the approvers minus the requester under
// four-eyes and minus those who approved already; nil means anyone.
func eligible(st *api.Status, pa *api.PendingApproval) []string {
	if len(pa.Approvers) == 0 {
		return nil
	}
	done := func(who string) bool {
		if pa.FourEyes && normalize(who) == normalize(st.Requester) {
			return true
		}
		return slices.ContainsFunc(st.Approvals, func(d api.Decision) bool {
			return d.Env == pa.Env && d.Subject == pa.Subject && d.Decision == "approve" && normalize(d.Who) == normalize(who)
		})
	}
	out := []string{}
	for _, a := range pa.Approvers {
		if !done(a) {
			out = append(out, a)
		}
	}
	return out
}

// pendingMarkdown is the current details' account of a pending approval: what waits, who may
// decide, until when, and the exact commands to do it, so the Web UI's run page answers
// "what does this need from me" without opening a tab.
func pendingMarkdown(st *api.Status, pa *api.PendingApproval) string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("**Waiting for approval in %s**: %d of %d, expires %s\n\n",
		pa.Env, pa.Received, pa.MinApprovals, pa.ExpiresAt.UTC().Format("2006-01-02 15:04 MST")))
	b.WriteString(fmt.Sprintf("%s `%s`\n\n", pa.What, pa.Subject))
	who := "anyone"
	if e := eligible(st, pa); e != nil {
		who = strings.Join(e, ", ")
		if len(e) == 0 {
			who = "nobody left on the list"
		}
	}
	rules := []string{}
	if pa.FourEyes && st.Requester != "" {
		rules = append(rules, "four-eyes: not "+st.Requester)
	}
	if pa.RequireSignatures {
		rules = append(rules, "signed with their key")
	}
	if len(rules) > 0 {
		who += " (" + strings.Join(rules, "; ") + ")"
	}
	b.WriteString(fmt.Sprintf("Who may approve: %s\n\n", who))
	b.WriteString(fmt.Sprintf("`starter approve %s --as USER`\n\n", st.WorkflowID))
	b.WriteString(fmt.Sprintf("`starter reject %s --as USER --reason TEXT`\n\n", st.WorkflowID))
	if pa.Reviews != "" {
		b.WriteString(fmt.Sprintf("or an approving review of %s by an approver's GitHub login\n\n", pa.Reviews))
	}
	return b.String()
}

// publish shows who holds the lock and who waits, in order, as the lock's current details.
func (l *lock) publish(ctx workflow.Context) {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("**lock** `%s`: one promotion per service per env at a time\n\n", l.key))
	if l.holder == "" {
		b.WriteString("free\n\n")
	} else {
		b.WriteString(fmt.Sprintf("held by `%s`\n\n", l.holder))
	}
	for i, q := range l.queue {
		asks := ""
		if q.Supersede {
			asks = " (asks the holder to step aside)"
		}
		b.WriteString(fmt.Sprintf("%d. `%s`%s\n", i+1, q.Owner, asks))
	}
	workflow.SetCurrentDetails(ctx, b.String())
}
