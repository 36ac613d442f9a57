package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/workflows/api"
)

func TestSummariesSayWhatAWaitIsFor(t *testing.T) {
	expires := time.Date(2026, 11, 30, 8, 22, 0, 0, time.UTC)
	req := gateRequest{Env: "prod", Subject: "sha256:1a2b3c4d5e6f7a8b9c0d", What: "image digest", Policy: config.Approval{MinApprovals: 2}}
	id := "promote-time-service-v1.2.3"
	require.Equal(t, "approval in prod: 0 of 2, expires Nov 30 08:22 UTC · starter approve promote-time-service-v1.2.3 --as USER",
		approvalSummary(id, req, 0, expires))
	require.Equal(t, approvalSummary(id, req, 0, expires), approvalSummary(id, req, 0, expires.In(time.FixedZone("CET", 3600))),
		"always in UTC, whatever the zone")
	require.Equal(t, "soak in staging, 1m30s", soakSummary("staging", 90*time.Second))
	require.Equal(t, "waiting for lock time-service/prod", lockSummary("time-service/prod"))
	require.Equal(t, "in 30s: is promote-time-service-v1.2.3 still running?", livenessSummary("promote-time-service-v1.2.3", 30*time.Second))
}

func TestPendingMarkdownNamesWhoMayStillApprove(t *testing.T) {
	expires := time.Date(2026, 11, 30, 8, 22, 0, 0, time.UTC)
	pa := &api.PendingApproval{Env: "prod", Approvers: []string{"alice", "Bob", "carol"}, ExpiresAt: expires, Subject: "sha256:aa",
		What: "image digest", MinApprovals: 2, FourEyes: true, Received: 1, RequireSignatures: true,
		Reviews: "https://github.com/acme/platform/pull/7"}
	st := &api.Status{WorkflowID: "promote-time-service-v1.2.3", Requester: "Alice",
		Approvals: []api.Decision{
			{Who: "bob", Decision: "approve", Env: "prod", Subject: "sha256:aa"},
			{Who: "carol", Decision: "approve", Env: "staging", Subject: "sha256:aa"}, // another gate
		}}
	require.Equal(t, "**Waiting for approval in prod**: 1 of 2, expires 2026-11-30 08:22 UTC\n\n"+
		"image digest `sha256:aa`\n\n"+
		"Who may approve: carol (four-eyes: not Alice; signed with their key)\n\n"+
		"`starter approve promote-time-service-v1.2.3 --as USER`\n\n"+
		"`starter reject promote-time-service-v1.2.3 --as USER --reason TEXT`\n\n"+
		"or an approving review of https://github.com/acme/platform/pull/7 by an approver's GitHub login\n\n",
		pendingMarkdown(st, pa))

	open := &api.PendingApproval{Env: "staging", ExpiresAt: expires, Subject: "abc", What: "terraform plan", MinApprovals: 1}
	require.Contains(t, pendingMarkdown(&api.Status{WorkflowID: "bootstrap-staging"}, open), "Who may approve: anyone\n\n")
	pa.Approvers = []string{"alice", "bob"}
	require.Contains(t, pendingMarkdown(st, pa), "Who may approve: nobody left on the list (")
}
