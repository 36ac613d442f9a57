//go:build record

package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

// registerPromoteStubs registers Promote with stand-ins for its activities, under the names the
// real ones have, answering what the real ones would for time-service v1.2.3 going from
// staging to prod. SignalWithStart is the real one (lockWorker registers it).
func registerPromoteStubs(w worker.Worker) {
	w.RegisterWorkflowWithOptions(Promote, workflowOptions(api.PromoteWorkflowName))
	stg := staging()
	stg.Soak = time.Second
	stubs := map[string]any{
		"PlanPromotion": func(context.Context, policy.Input) (platform.PromotionOutput, error) {
			return platform.PromotionOutput{Envs: []policy.Env{stg, prod(1)}}, nil
		},
		"ResolveImage": func(context.Context, aws.ResolveInput) (aws.ResolveOutput, error) {
			return aws.ResolveOutput{Repository: "idp/localtime", Image: image, Digest: digest}, nil
		},
		"CheckFreeze": func(context.Context, platform.FreezeInput) (platform.FreezeOutput, error) {
			return platform.FreezeOutput{}, nil
		},
		"WriteImage": func(_ context.Context, in git.WriteImageInput) (git.WriteImageOutput, error) {
			if !in.Propose {
				return git.WriteImageOutput{Commit: "c0ffee0000000000000000000000000000000001", Changed: true, Previous: oldImg}, nil
			}
			return git.WriteImageOutput{Commit: "c0ffee0000000000000000000000000000000002", Changed: true, Previous: oldImg,
				Proposal: &git.Proposal{Base: "main", Head: in.Head, Commit: "c0ffee0000000000000000000000000000000002", Number: 7,
					URL: "https://github.com/alexpermiakov/idp/pull/7"}}, nil
		},
		"MergeProposal": func(context.Context, git.MergeInput) (git.WriteImageOutput, error) {
			return git.WriteImageOutput{Commit: "c0ffee0000000000000000000000000000000003", Changed: true}, nil
		},
		"RefreshApp": func(context.Context, argocd.AppInput) error { return nil },
		"WaitApp": func(context.Context, argocd.WaitAppInput) (argocd.WaitAppOutput, error) {
			return argocd.WaitAppOutput{Status: argocd.AppStatus{Sync: "Synced", Health: "Healthy"}}, nil
		},
		"CurrentImage": func(context.Context, platform.ImageInput) (platform.ImageOutput, error) {
			return platform.ImageOutput{Image: oldImg, Commit: "c0ffee0000000000000000000000000000000000"}, nil
		},
		"ApprovalKeys": func(_ context.Context, in platform.ApprovalKeysInput) (platform.ApprovalKeysOutput, error) {
			out := platform.ApprovalKeysOutput{Approvers: in.Approvers, People: []platform.PersonKeys{}}
			for _, who := range in.Approvers {
				out.People = append(out.People, platform.PersonKeys{Name: who})
			}
			return out, nil
		},
		"Soak": func(_ context.Context, in argocd.SoakInput) (argocd.SoakOutput, error) {
			return argocd.SoakOutput{Status: argocd.AppStatus{Sync: "Synced", Health: "Healthy"}, Watched: in.Duration}, nil
		},
		"Passed": func(context.Context, argocd.PassedInput) (argocd.PassedOutput, error) {
			return argocd.PassedOutput{Passed: true, Reason: "Healthy in staging"}, nil
		},
	}
	for name, fn := range stubs {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// recordPromoteToProd: alice promotes time-service v1.2.3 to prod; staging goes by itself and
// soaks (the Soak activity watches it), prod waits for an approval; alice's own is refused
// (four-eyes), bob's is accepted. Prod, the last env, is not soaked.
func recordPromoteToProd(t *testing.T, c client.Client) {
	ctx := context.Background()
	id := api.PromoteID("time-service", "v1.2.3")
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: api.TaskQueue}, api.PromoteWorkflowName,
		api.PromoteInput{Service: "time-service", Tag: "v1.2.3", To: "prod", Requester: "alice"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(ctx, id, "", api.StatusQuery)
		var st api.Status
		return err == nil && v.Get(&st) == nil && st.Stage == api.StageWaitingApproval
	}, time.Minute, 100*time.Millisecond)
	approve := func(who string) error {
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: api.ApproveUpdate,
			Args: []any{api.ApproveInput{Who: who, Subject: digest, Comment: "recorded"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err != nil {
			return err
		}
		return h.Get(ctx, nil)
	}
	require.ErrorContains(t, approve("alice"), "four-eyes")
	require.NoError(t, approve("bob"))
	var st api.Status
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, api.StageDone, st.Stage)
	// promote-staging-prod-approved.json was recorded before the soak watched the Application
	// (a timer then); it stays, and must still replay.
	writeHistory(t, c, id, "promote-staging-prod-approved-soak-watched.json")
}
