package workflows

import (
	"context"
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/notify"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// told records the events Send is given, as "type env".
func (s *promoteSuite) told() *[]notify.Event {
	var na *notify.Activities
	s.env.RegisterActivity(na)
	evs := &[]notify.Event{}
	s.env.OnActivity(na.Send, mock.Anything, mock.Anything).Return(func(_ context.Context, ev notify.Event) (notify.SendOutput, error) {
		*evs = append(*evs, ev)
		return notify.SendOutput{}, nil
	})
	return evs
}

func kinds(evs []notify.Event) []string {
	out := []string{}
	for _, ev := range evs {
		out = append(out, ev.Type+" "+ev.Env)
	}
	return out
}

// waitingProd mocks staging going by itself and prod's branch, with prod's reminder after
// remind.
func (s *promoteSuite) waitingProd(remind time.Duration) {
	p := prod(1)
	p.Approval.RemindAfter = config.Duration(remind)
	s.path(staging(), p)
	s.direct("staging", "c-stg")
	s.soaks("staging", "c-stg")
	s.env.OnActivity(ga.WriteImage, mock.Anything, mock.MatchedBy(func(in git.WriteImageInput) bool { return in.Propose })).
		Return(git.WriteImageOutput{Commit: "branchsha", Proposal: &git.Proposal{Head: "h"}}, nil).Once()
}

// TestARejectionIsToldOnceWithoutAReminder: carol rejects before the reminder is due: no
// reminder, the rejection with who and why, and no second "failed" message.
func (s *promoteSuite) TestARejectionIsToldOnceWithoutAReminder() {
	evs := s.told()
	s.waitingProd(45 * time.Minute)
	s.env.RegisterDelayedCallback(func() {
		s.update("reject", map[string]any{"who": "carol", "subject": digest, "reason": "not during the sale"})
	}, 30*time.Minute)
	s.start("prod")
	s.True(fail.Is(s.env.GetWorkflowError(), fail.Rejected))
	s.Equal([]string{"promoted staging", "approval_requested prod", "rejected prod"}, kinds(*evs))
	s.Equal("carol", (*evs)[2].Who)
	s.Contains((*evs)[2].Text, "not during the sale")
}

// TestAnExpiryIsRemindedOnce: nobody decides: one reminder after remindAfter, then the expiry.
func (s *promoteSuite) TestAnExpiryIsRemindedOnce() {
	evs := s.told()
	s.waitingProd(20 * time.Minute)
	s.start("prod")
	s.True(fail.Is(s.env.GetWorkflowError(), fail.ApprovalExpired))
	s.Equal([]string{"promoted staging", "approval_requested prod", "approval_reminder prod", "expired prod"}, kinds(*evs))
	rem := (*evs)[2]
	s.Equal(approveCommand(promoID, digest), rem.ApproveCommand)
	s.Equal(rem.Time.Add(40*time.Minute), rem.ExpiresAt, "reminded 20m into the hour")
	s.Contains(s.status().Steps, promoID+" still waits for approval in prod: reminder sent")
}

// oncallOnly is a notify target that wants rollbacks only.
var oncallOnly = config.NotifyTarget{Name: "oncall", URLFrom: "env:ONCALL_WEBHOOK", Events: []string{notify.RolledBack}}

// TestNobodyToTellIsNotSent: an event no target of the env wants is not sent: no Send
// activity that would find nobody to tell.
func (s *promoteSuite) TestNobodyToTellIsNotSent() {
	var na *notify.Activities
	s.env.RegisterActivity(na)
	evs := &[]notify.Event{}
	s.env.OnActivity(na.Send, mock.Anything, mock.Anything).Return(func(_ context.Context, ev notify.Event) (notify.SendOutput, error) {
		*evs = append(*evs, ev)
		return notify.SendOutput{}, nil
	}).Maybe()
	stg := staging()
	stg.Snapshot.Env.Notify = []config.NotifyTarget{oncallOnly}
	s.path(stg)
	s.direct("staging", "c-stg")
	s.start("staging")
	s.NoError(s.env.GetWorkflowError())
	s.Empty(*evs, "nobody in staging wants promoted")
}

// TestATargetThatWantsItIsTold: the same env with one more target, which wants promotions.
func (s *promoteSuite) TestATargetThatWantsItIsTold() {
	evs := s.told()
	stg := staging()
	stg.Snapshot.Env.Notify = []config.NotifyTarget{oncallOnly, {Name: "team", URLFrom: "env:TEAM_WEBHOOK", Events: []string{notify.Promoted}}}
	s.path(stg)
	s.direct("staging", "c-stg")
	s.start("staging")
	s.NoError(s.env.GetWorkflowError())
	s.Equal([]string{"promoted staging"}, kinds(*evs))
}

// TestDeploymentsAndMessagesShareOneOrder: on GitHub, staging's deployment goes in_progress,
// then success, before "promoted" is sent: one outbox, in the order things happened.
func (s *promoteSuite) TestDeploymentsAndMessagesShareOneOrder() {
	evs := s.told()
	var order []string
	s.env.OnActivity(ga.RecordDeployment, mock.Anything, mock.Anything).Return(func(_ context.Context, in git.DeploymentInput) (git.DeploymentOutput, error) {
		order = append(order, in.Deployment.Env+" "+in.Deployment.Commit+" "+in.State)
		if len(*evs) > 0 {
			order = append(order, "after a message")
		}
		return git.DeploymentOutput{ID: 1}, nil
	}).Twice()
	stg := staging()
	stg.Snapshot.Repository.Provider = "github"
	s.path(stg)
	s.direct("staging", "c-stg")
	s.start("staging")
	s.NoError(s.env.GetWorkflowError())
	s.Equal([]string{"staging c-stg in_progress", "staging c-stg success"}, order)
	s.Equal([]string{"promoted staging"}, kinds(*evs))
}
