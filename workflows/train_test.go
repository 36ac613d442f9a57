package workflows

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"golang.org/x/crypto/ssh"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/notify"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/controls"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/internal/signature"
	"github.com/alexpermiakov/idp/workflows/api"
)

const trainID = "train-rel-7"

// trainImages are the train's two images: service → repository:tag and digest.
var trainImages = map[string][2]string{
	"time-service":    {"ecr/idp/localtime:v2.0.0", "sha256:" + strings.Repeat("a", 64)},
	"version-service": {"ecr/idp/version:v3.0.0", "sha256:" + strings.Repeat("b", 64)},
}

func trainPinned(svc string) string {
	return policy.PinnedImage(trainImages[svc][0], trainImages[svc][1])
}
func trainOld(svc string) string { return "ecr/idp/" + svc + ":old" }

type trainSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment
	// broken is the app that turns Degraded at the train's image.
	broken string
	// locks are the lock keys asked for, in order; granted those the lock granted.
	locks, granted []string
	// early are the locks asked for while one asked for before was not granted yet.
	early []string
	// writes are the images written into Git, as "env service image [over expected]".
	writes []string
	people map[string][]string
}

func TestTrain(t *testing.T) { suite.Run(t, new(trainSuite)) }

func member(svc, name string) policy.Env {
	e := policy.Env{Name: name, App: svc + "-" + name, Root: name + "-apps", HealthTimeout: 3 * time.Minute,
		Snapshot: config.Snapshot{Env: config.Environment{Name: name}},
		Approval: config.Approval{MinApprovals: 1, Expiry: config.Duration(time.Hour)}}
	if name == "staging" {
		e.Soak = time.Minute
	}
	if name == "prod" {
		e.Propose = true // through pull requests, one per service, merged after the one approval
		e.Approval = config.Approval{Required: true, FourEyes: true, MinApprovals: 1, Approvers: []string{"alice", "bob"},
			Expiry: config.Duration(time.Hour), RequireSignatures: true}
	}
	return e
}

func (s *trainSuite) SetupTest() {
	s.env = s.NewTestWorkflowEnvironment()
	s.env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: 30 * time.Second})
	s.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: trainID})
	s.env.RegisterWorkflowWithOptions(Train, workflowOptions(api.TrainWorkflowName))
	var na *notify.Activities
	for _, a := range []any{pa, ar, ga, ea, sa, na} {
		s.env.RegisterActivity(a)
	}
	s.broken, s.locks, s.granted, s.early, s.writes, s.people = "", nil, nil, nil, nil, map[string][]string{}
	s.env.OnActivity(pa.PlanPromotion, mock.Anything, mock.Anything).Return(func(_ context.Context, in policy.Input) (platform.PromotionOutput, error) {
		envs := []policy.Env{member(in.Service, "staging")}
		if in.To == "prod" {
			envs = append(envs, member(in.Service, "prod"))
		}
		return platform.PromotionOutput{Envs: envs}, nil
	})
	s.env.OnActivity(ea.ResolveImage, mock.Anything, mock.Anything).Return(func(_ context.Context, in aws.ResolveInput) (aws.ResolveOutput, error) {
		return aws.ResolveOutput{Image: trainImages[in.Service][0], Digest: trainImages[in.Service][1]}, nil
	})
	s.env.OnActivity(pa.CheckFreeze, mock.Anything, mock.Anything).Return(platform.FreezeOutput{}, nil)
	s.env.OnActivity(pa.CurrentImage, mock.Anything, mock.Anything).Return(func(_ context.Context, in platform.ImageInput) (platform.ImageOutput, error) {
		return platform.ImageOutput{Image: trainOld(in.Service)}, nil
	})
	s.env.OnActivity(sa.SignalWithStart, mock.Anything, mock.Anything).Return(func(_ context.Context, in platform.SignalWithStartInput) error {
		if in.WorkflowType == controls.WorkflowName {
			env := startEnv(in)
			s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(controls.AnswerSignal, controls.DoorAnswer{Env: env, Open: true}) }, time.Millisecond)
			return nil
		}
		key := lockKey(in)
		if len(s.granted) < len(s.locks) {
			s.early = append(s.early, key)
		}
		s.locks = append(s.locks, key)
		// A slow grant: a train that asked for its next lock before holding this one would show.
		s.env.RegisterDelayedCallback(func() {
			s.granted = append(s.granted, key)
			s.env.SignalWorkflow(api.LockGrantedSignal, LockGrant{Key: key})
		}, time.Minute)
		return nil
	})
	s.env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", api.LockReleaseSignal, mock.Anything).Return(nil)
	s.env.OnActivity(ga.WriteImage, mock.Anything, mock.Anything).Return(func(_ context.Context, in git.WriteImageInput) (git.WriteImageOutput, error) {
		w := fmt.Sprintf("%s %s %s", in.Env, in.Service, in.Image)
		if in.Expect != "" {
			w += " over " + in.Expect
		}
		if in.Propose {
			w = "propose " + w + " on " + in.Head
		}
		s.writes = append(s.writes, w)
		out := git.WriteImageOutput{Commit: fmt.Sprintf("c%d", len(s.writes)), Changed: true}
		if in.Propose {
			out.Proposal = &git.Proposal{Base: "main", Head: in.Head, Commit: out.Commit, Number: len(s.writes)}
		}
		return out, nil
	})
	s.env.OnActivity(ga.MergeProposal, mock.Anything, mock.Anything).Return(func(_ context.Context, in git.MergeInput) (git.WriteImageOutput, error) {
		s.writes = append(s.writes, "merge "+in.Proposal.Head)
		return git.WriteImageOutput{Commit: fmt.Sprintf("c%d", len(s.writes)), Changed: true}, nil
	}).Maybe()
	s.env.OnActivity(ar.RefreshApp, mock.Anything, mock.Anything).Return(nil)
	s.env.OnActivity(ar.WaitApp, mock.Anything, mock.Anything).Return(func(_ context.Context, in argocd.WaitAppInput) (argocd.WaitAppOutput, error) {
		if in.App == s.broken && strings.HasSuffix(in.Image, "@"+trainImages["version-service"][1]) {
			return argocd.WaitAppOutput{}, fail.New(argocd.ErrDegraded, "%s is Degraded at %s", in.App, in.Commit)
		}
		return argocd.WaitAppOutput{Status: argocd.AppStatus{Sync: "Synced", Health: "Healthy"}}, nil
	})
	s.env.OnActivity(ar.Soak, mock.Anything, mock.Anything).Return(func(_ context.Context, in argocd.SoakInput) (argocd.SoakOutput, error) {
		if in.App == s.broken && in.Image == trainPinned("time-service") {
			return argocd.SoakOutput{}, fail.New(argocd.ErrDegraded, "%s turned Degraded during its soak", in.App)
		}
		return argocd.SoakOutput{Status: argocd.AppStatus{Sync: "Synced", Health: "Healthy"}}, nil
	}).Maybe()
	s.env.OnActivity(sa.Pin, mock.Anything, mock.Anything).Return(nil).Maybe()
	s.env.OnActivity(na.Send, mock.Anything, mock.Anything).Return(notify.SendOutput{}, nil).Maybe()
	mockApprovalKeys(s.env, func() map[string][]string { return s.people })
}

// start starts the train with its members in reverse service order: the train sorts them.
func (s *trainSuite) start(to string) {
	s.env.ExecuteWorkflow(api.TrainWorkflowName, api.TrainInput{Name: "rel-7", To: to, Requester: "alice",
		Members: []api.TrainMember{{Service: "version-service", Tag: "v3.0.0"}, {Service: "time-service", Tag: "v2.0.0"}}})
}

func (s *trainSuite) status() api.Status {
	v, err := s.env.QueryWorkflow(api.StatusQuery)
	s.Require().NoError(err)
	var st api.Status
	s.Require().NoError(v.Get(&st))
	return st
}

// TestOneBrokenRollsBackBoth: version-service does not become healthy in staging, so both
// services are rolled back there, each over its own image, and the train stops.
func (s *trainSuite) TestOneBrokenRollsBackBoth() {
	s.broken = "version-service-staging"
	s.start("prod")
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, api.ErrRolledBack), "%v", err)
	s.ErrorContains(err, "train rel-7: version-service v3.0.0 did not become healthy in staging: version-service-staging is Degraded")
	s.ErrorContains(err, "rolled back: time-service to "+trainOld("time-service")+", version-service to "+trainOld("version-service"))
	s.Equal([]string{
		"staging time-service " + trainPinned("time-service"),
		"staging version-service " + trainPinned("version-service"),
		"staging time-service " + trainOld("time-service") + " over " + trainPinned("time-service"),
		"staging version-service " + trainOld("version-service") + " over " + trainPinned("version-service"),
	}, s.writes)
	st := s.status()
	s.Equal(api.StageFailed, st.Stage)
	s.Equal([]api.EnvStatus{{Name: "staging", State: api.EnvRolledBack}, {Name: "prod", State: api.EnvPending}}, st.Environments)
	s.Require().Len(st.Train.Members, 2)
	for _, m := range st.Train.Members {
		s.Equal(api.EnvRolledBack, m.Environments[0].State, m.Service)
		s.Equal(trainOld(m.Service), m.Environments[0].Image, m.Service)
		s.Equal(api.EnvPending, m.Environments[1].State, m.Service)
	}
}

// TestLocksInServiceOrder: the train asks for each env's locks in service order, the next only
// once it holds the one before, whatever order the services were given in.
func (s *trainSuite) TestLocksInServiceOrder() {
	s.start("")
	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal([]string{"time-service/staging", "version-service/staging"}, s.locks)
	s.Equal(s.locks, s.granted)
	s.Empty(s.early, "asked for a lock before holding the one before it")
	s.Equal([]string{
		"staging time-service " + trainPinned("time-service"),
		"staging version-service " + trainPinned("version-service"),
	}, s.writes)
}

func (s *trainSuite) update(arg api.ApproveInput) *outcome {
	o := &outcome{}
	s.env.UpdateWorkflow(api.ApproveUpdate, "", &testsuite.TestUpdateCallback{
		OnAccept: func() { o.accepted = true }, OnReject: func(err error) { o.refused = err }, OnComplete: func(any, error) {},
	}, arg)
	return o
}

// signedApproval is bob's approval of subject in prod, signed over a statement whose subject
// is signedSubject.
func (s *trainSuite) signedApproval(key ssh.Signer, subject, signedSubject string) api.ApproveInput {
	st := signature.Statement{WorkflowID: trainID, Env: "prod", Decision: "approve", Subject: signedSubject, Comment: "ok", SignedAt: s.env.Now()}
	sig, err := signature.Sign(st, key)
	s.Require().NoError(err)
	return api.ApproveInput{Who: "bob", Subject: subject, Comment: "ok", Signature: sig, SignedAt: st.SignedAt}
}

// TestOneApprovalCoversEveryDigest: prod waits for one signed approval whose subject binds
// both digests; a subject with one digest changed, or a signature over one, is refused.
func (s *trainSuite) TestOneApprovalCoversEveryDigest() {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	s.Require().NoError(err)
	bobKey, err := ssh.NewSignerFromKey(priv)
	s.Require().NoError(err)
	s.people["bob"] = []string{string(ssh.MarshalAuthorizedKey(bobKey.PublicKey()))}
	members := []api.TrainImage{{Service: "time-service", Digest: trainImages["time-service"][1]},
		{Service: "version-service", Digest: trainImages["version-service"][1]}}
	subject := api.TrainSubject(members)
	members[1].Digest = "sha256:" + strings.Repeat("c", 64)
	changed := api.TrainSubject(members)
	s.NotEqual(subject, changed)
	var oneDigest, otherSubject, signedOther, unsigned, bob *outcome
	s.env.RegisterDelayedCallback(func() {
		st := s.status()
		s.Equal(api.StageWaitingApproval, st.Stage)
		s.Require().NotNil(st.PendingApproval)
		s.Equal("prod", st.PendingApproval.Env)
		s.Equal(subject, st.PendingApproval.Subject)
		s.Equal(subject, st.Train.Subject)
		s.Equal(api.EnvDone, st.Environments[0].State, "staging went by itself")
		s.Equal([]string{"time-service", "version-service"}, []string{st.Train.Members[0].Service, st.Train.Members[1].Service})
		s.Equal(trainImages["version-service"][1], st.Train.Members[1].Digest)
		oneDigest = s.update(s.signedApproval(bobKey, trainImages["time-service"][1], trainImages["time-service"][1]))
		otherSubject = s.update(s.signedApproval(bobKey, changed, changed))
		signedOther = s.update(s.signedApproval(bobKey, subject, changed))
		unsigned = s.update(api.ApproveInput{Who: "bob", Subject: subject})
		bob = s.update(s.signedApproval(bobKey, subject, subject))
	}, 30*time.Minute)
	s.start("prod")
	s.Require().NoError(s.env.GetWorkflowError())
	for o, msg := range map[**outcome]string{&oneDigest: "is not the pending train digest", &otherSubject: "is not the pending train digest",
		&signedOther: "is for another statement", &unsigned: "needs a signed decision"} {
		s.Require().NotNil(*o)
		s.False((*o).accepted)
		s.ErrorContains((*o).refused, msg)
	}
	s.Require().NotNil(bob)
	s.True(bob.accepted, "%v", bob.refused)
	var st api.Status
	s.Require().NoError(s.env.GetWorkflowResult(&st))
	s.Equal(api.StageDone, st.Stage)
	s.Require().Len(st.Approvals, 1)
	s.True(st.Approvals[0].Verified)
	s.Equal(subject, st.Approvals[0].Subject)
	s.Equal([]api.EnvStatus{{Name: "staging", State: api.EnvDone}, {Name: "prod", State: api.EnvDone}}, st.Environments)
	s.Equal([]string{
		"staging time-service " + trainPinned("time-service"),
		"staging version-service " + trainPinned("version-service"),
		"propose prod time-service " + trainPinned("time-service") + " on idp/time-service-prod-v2.0.0",
		"propose prod version-service " + trainPinned("version-service") + " on idp/version-service-prod-v3.0.0",
		"merge idp/time-service-prod-v2.0.0",
		"merge idp/version-service-prod-v3.0.0",
	}, s.writes, "both pull requests are open before the approval, both merged after it")
	s.Equal(trainPinned("version-service"), st.Train.Members[1].Environments[1].Image)
}

// TestASoakFailureRollsBackBoth: both are Healthy in staging, then time-service turns Degraded
// during the soak: both are rolled back there and nothing goes to prod.
func (s *trainSuite) TestASoakFailureRollsBackBoth() {
	s.broken = "time-service-staging"
	s.start("prod")
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(fail.Is(err, api.ErrRolledBack), "%v", err)
	s.ErrorContains(err, "train rel-7: time-service v2.0.0 did not stay healthy in staging: time-service-staging turned Degraded during its soak")
	s.Equal([]string{
		"staging time-service " + trainPinned("time-service"),
		"staging version-service " + trainPinned("version-service"),
		"staging time-service " + trainOld("time-service") + " over " + trainPinned("time-service"),
		"staging version-service " + trainOld("version-service") + " over " + trainPinned("version-service"),
	}, s.writes)
	st := s.status()
	s.Equal([]api.EnvStatus{{Name: "staging", State: api.EnvRolledBack}, {Name: "prod", State: api.EnvPending}}, st.Environments)
}
