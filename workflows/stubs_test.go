package workflows

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"golang.org/x/crypto/ssh"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/github"
	"github.com/alexpermiakov/idp/activities/notify"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows/api"
)

// proposedCommit is the head of the pull request the stand-in WriteImage proposes.
const proposedCommit = "c0ffee0000000000000000000000000000000002"

// registerPromoteStubs registers Promote with stand-ins for its activities, under the names the
// real ones have, answering what the real ones would for time-service going from staging to
// prod through pull request #7; reviews, when set, is the real WatchReviews. SignalWithStart is
// the real one (lockWorker registers it).
func registerPromoteStubs(w worker.Worker, reviews *git.Activities) {
	registerStubs(w, promoteStubs(), reviews)
}

// registerStubs registers Promote, the stand-ins under their names and, when set, the real
// WatchReviews.
func registerStubs(w worker.Worker, stubs map[string]any, reviews *git.Activities) {
	w.RegisterWorkflowWithOptions(Promote, workflowOptions(api.PromoteWorkflowName))
	w.RegisterWorkflowWithOptions(Controls, workflowOptions(api.ControlsWorkflowName))
	for name, fn := range stubs {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	if reviews != nil {
		w.RegisterActivityWithOptions(reviews.WatchReviews, activity.RegisterOptions{Name: "WatchReviews"})
	}
}

// promoteStubs are the stand-ins registerPromoteStubs registers, by activity name.
func promoteStubs() map[string]any {
	stg := staging()
	stg.Soak = time.Second
	// Staging's team is told everything; prod has no notify target, so nothing is sent there.
	prd := prod(1)
	prd.Snapshot.Env.Notify = nil
	return map[string]any{
		"PlanPromotion": func(context.Context, policy.Input) (platform.PromotionOutput, error) {
			return platform.PromotionOutput{Envs: []policy.Env{stg, prd}}, nil
		},
		"ResolveImage": func(context.Context, aws.ResolveInput) (aws.ResolveOutput, error) {
			return aws.ResolveOutput{Repository: "idp/localtime", Image: image, Digest: digest}, nil
		},
		"CheckFreeze": func(context.Context, platform.FreezeInput) (platform.FreezeOutput, error) {
			return platform.FreezeOutput{}, nil
		},
		"CurrentImage": func(context.Context, platform.ImageInput) (platform.ImageOutput, error) {
			return platform.ImageOutput{Image: oldImg, Commit: "c0ffee0000000000000000000000000000000000"}, nil
		},
		"ApprovalKeys": func(_ context.Context, in platform.ApprovalKeysInput) (platform.ApprovalKeysOutput, error) {
			out := platform.ApprovalKeysOutput{Approvers: in.Approvers, People: []platform.PersonKeys{}, GitHub: githubLogins}
			for _, a := range in.Approvers {
				out.People = append(out.People, platform.PersonKeys{Name: a, Keys: []string{}})
			}
			return out, nil
		},
		"RequesterKeys": func(_ context.Context, in platform.RequesterKeysInput) (platform.PersonKeys, error) {
			if in.Name != "alice" {
				return platform.PersonKeys{Name: in.Name, Keys: []string{}}, nil
			}
			return platform.PersonKeys{Name: in.Name, Keys: []string{string(ssh.MarshalAuthorizedKey(recordedAlice().PublicKey()))}}, nil
		},
		"WriteImage": func(_ context.Context, in git.WriteImageInput) (git.WriteImageOutput, error) {
			if !in.Propose {
				return git.WriteImageOutput{Commit: "c0ffee0000000000000000000000000000000001", Changed: true, Previous: oldImg}, nil
			}
			return git.WriteImageOutput{Commit: proposedCommit, Changed: true, Previous: oldImg,
				Proposal: &git.Proposal{Base: "main", Head: in.Head, Commit: proposedCommit, Number: 7,
					URL: "https://github.com/alexpermiakov/idp/pull/7"}}, nil
		},
		"MergeProposal": func(context.Context, git.MergeInput) (git.WriteImageOutput, error) {
			return git.WriteImageOutput{Commit: "c0ffee0000000000000000000000000000000003", Changed: true}, nil
		},
		"RefreshApp": func(context.Context, argocd.AppInput) error { return nil },
		"WaitApp": func(context.Context, argocd.WaitAppInput) (argocd.WaitAppOutput, error) {
			return argocd.WaitAppOutput{Status: argocd.AppStatus{Sync: "Synced", Health: "Healthy"}}, nil
		},
		"Soak": func(_ context.Context, in argocd.SoakInput) (argocd.SoakOutput, error) {
			return argocd.SoakOutput{Status: argocd.AppStatus{Sync: "Synced", Health: "Healthy"}, Watched: in.Duration}, nil
		},
		"Passed": func(context.Context, argocd.PassedInput) (argocd.PassedOutput, error) {
			return argocd.PassedOutput{Passed: true, Reason: "Healthy in staging"}, nil
		},
		"Send": func(context.Context, notify.Event) (notify.SendOutput, error) { return notify.SendOutput{}, nil },
	}
}

// recordedAlice is alice's key in the stand-ins: fixed, so a recorded signed request stays
// verifiable by the same key on every recording.
func recordedAlice() ssh.Signer {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "recorded-alice-key-for-histories")
	signer, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		panic(err)
	}
	return signer
}

// fakeGitHub answers the one GitHub call the review watch makes, the reviews of
// acme/platform's pull request #7, from reviews people submit while a test runs. Its first
// answer is a 502, which the provider must retry.
type fakeGitHub struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reviews []map[string]any
	calls   int
	last    time.Time // of the latest call
}

const fakeGitHubToken = "ghs_fake_0123456789"

func newFakeGitHub(t *testing.T) *fakeGitHub {
	t.Helper()
	f := &fakeGitHub{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/acme/platform/pulls/7/reviews", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls++
		f.last = time.Now()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Header.Get("Authorization") != "Bearer "+fakeGitHubToken:
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"Bad credentials"}`)
		case f.calls == 1:
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, `{"message":"Server Error"}`)
		default:
			require.NoError(t, json.NewEncoder(w).Encode(f.reviews))
		}
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// review has login submit a review of commit.
func (f *fakeGitHub) review(login, state, commit string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := 500 + len(f.reviews)
	f.reviews = append(f.reviews, map[string]any{"id": id, "user": map[string]any{"login": login}, "state": state,
		"commit_id": commit, "submitted_at": time.Now().UTC().Format(time.RFC3339),
		"html_url": fmt.Sprintf("https://github.com/acme/platform/pull/7#pullrequestreview-%d", id)})
}

// idleFor reports whether nobody asked for reviews during the last d.
func (f *fakeGitHub) idleFor(d time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return time.Since(f.last) > d
}

// activities are the real git activities with the real GitHub provider pointed at f.
func (f *fakeGitHub) activities(t *testing.T, poll time.Duration) *git.Activities {
	t.Helper()
	p, err := github.New("acme/platform", git.Options{Token: fakeGitHubToken, APIURL: f.srv.URL})
	require.NoError(t, err)
	return &git.Activities{Provider: p, Branch: "main", ReviewPoll: poll}
}
