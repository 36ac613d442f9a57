package terraform

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/internal/checkout"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// fakeStore is a PlanStore in memory, keyed by bucket and key.
type fakeStore struct {
	mu      sync.Mutex
	objects map[string][]byte
}

func (s *fakeStore) Put(_ context.Context, env *config.Environment, key string, body []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.objects == nil {
		s.objects = map[string][]byte{}
	}
	s.objects[env.StateBucket+"/"+key] = body
	return nil
}

func (s *fakeStore) Get(_ context.Context, env *config.Environment, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objects[env.StateBucket+"/"+key]
	if !ok {
		return nil, fmt.Errorf("fetching %s: %w", key, ErrPlanNotFound)
	}
	return b, nil
}

// fakeTerraform stands in for terraform: plan writes planBytes where the activity expects its
// plan file, apply writes stream as terraform apply -json would, and each command fails with
// its error, shaped like terraform-exec's (exit status, then terraform's stderr).
type fakeTerraform struct {
	dir       string
	initErr   error
	planErr   error
	planBytes []byte
	plan      *tfjson.Plan
	stream    []string
	applyErr  error
	outputs   map[string]tfexec.OutputMeta
	applied   bool
	unlocked  []string
}

func (f *fakeTerraform) Init(context.Context, ...tfexec.InitOption) error { return f.initErr }

func (f *fakeTerraform) Plan(context.Context, ...tfexec.PlanOption) (bool, error) {
	if f.planErr != nil {
		return false, f.planErr
	}
	return true, os.WriteFile(filepath.Join(f.dir, planFile), f.planBytes, 0o600)
}

func (f *fakeTerraform) ShowPlanFile(context.Context, string, ...tfexec.ShowOption) (*tfjson.Plan, error) {
	return f.plan, nil
}

func (f *fakeTerraform) ApplyJSON(_ context.Context, w io.Writer, _ ...tfexec.ApplyOption) error {
	f.applied = true
	for _, line := range f.stream {
		if _, err := io.WriteString(w, line+"\n"); err != nil {
			return err
		}
	}
	return f.applyErr
}

func (f *fakeTerraform) Output(context.Context, ...tfexec.OutputOption) (map[string]tfexec.OutputMeta, error) {
	return f.outputs, nil
}

func (f *fakeTerraform) SetStdout(io.Writer) {}

func (f *fakeTerraform) ForceUnlock(_ context.Context, id string, _ ...tfexec.ForceUnlockOption) error {
	f.unlocked = append(f.unlocked, id)
	return nil
}

// platformRepo is a platform repository with a one-file infra/entry, and its commit.
func platformRepo(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "infra", "entry"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "infra", "entry", "main.tf"), []byte("terraform {}\n"), 0o644))
	wt, err := repo.Worktree()
	require.NoError(t, err)
	_, err = wt.Add("infra")
	require.NoError(t, err)
	hash, err := wt.Commit("infra", &git.CommitOptions{Author: &object.Signature{Name: "idp", Email: "idp@example.com", When: time.Now()}})
	require.NoError(t, err)
	return dir, hash.String()
}

// withFakes gives activities over the repository at url whose terraform is tf and whose plan
// files go to store.
func withFakes(t *testing.T, url string, tf *fakeTerraform, store PlanStore) *Activities {
	t.Helper()
	work := t.TempDir()
	a := New(config.Terraform{WorkDir: work, PluginCache: filepath.Join(work, "plugins")},
		checkout.Repo{URL: url, CacheDir: work}, store)
	a.newRunner = func(dir string, env map[string]string) (runner, error) {
		require.Equal(t, "http://127.0.0.1:1", env["AWS_ENDPOINT_URL"], "terraform reaches the snapshot's account")
		tf.dir = dir
		return tf, nil
	}
	return a
}

// devSnapshot is a run's snapshot of a dev env on an endpoint nothing listens on: the fakes
// stand in for everything that would reach it.
func devSnapshot() config.Snapshot {
	return config.Snapshot{Env: config.Environment{Name: "dev",
		AWS:         config.AWS{AccountID: "111111111111", Region: "us-west-2", Endpoint: "http://127.0.0.1:1"},
		StateBucket: "state-dev", StateKey: "entry/terraform.tfstate", ClusterName: "idp-dev"}}
}

func retryable(err error) bool {
	var app *temporal.ApplicationError
	return err != nil && !(errors.As(err, &app) && app.NonRetryable())
}

// terraform-exec's failures: the exit status, then terraform's stderr, which ends in a newline
// (so these messages end in one too).
var (
	errLockHeld = errors.New( //lint:ignore ST1005 terraform's stderr, verbatim
		"exit status 1\n\n│ Error: Error acquiring the state lock\n│ \n│ Error message: operation error S3: PutObject, " +
			"https response error StatusCode: 412, PreconditionFailed\n│ Lock Info:\n│   ID:        0b6c3a0e\n│   Operation: OperationTypePlan\n")
	errBadConfig = errors.New( //lint:ignore ST1005 terraform's stderr, verbatim
		"exit status 1\n\n│ Error: Unsupported argument\n│ \n│   on main.tf line 3:\n│    3:   bogus = 1\n")
)

func diagnostic(summary, detail string) string {
	b, _ := json.Marshal(map[string]any{"@level": "error", "@message": "Error: " + summary, "type": "diagnostic",
		"diagnostic": map[string]string{"severity": "error", "summary": summary, "detail": detail}})
	return string(b)
}

func applyComplete(addr string) string {
	b, _ := json.Marshal(map[string]any{"type": "apply_complete", "hook": map[string]any{"resource": map[string]string{"addr": addr}}})
	return string(b)
}

func TestPlan(t *testing.T) {
	t.Parallel()
	url, commit := platformRepo(t)
	changes := &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
		{Address: "aws_s3_bucket.b", Mode: tfjson.ManagedResourceMode, Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionCreate}}},
		{Address: "aws_iam_role.r", Mode: tfjson.ManagedResourceMode, Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionDelete, tfjson.ActionCreate}}},
		{Address: "data.aws_caller_identity.me", Mode: tfjson.DataResourceMode, Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionRead}}},
	}}
	tests := []struct {
		name   string
		snap   config.Snapshot
		tf     fakeTerraform
		assert func(t *testing.T, out PlanOutput, store *fakeStore, err error)
	}{{
		name: "stores the plan file and returns its digest",
		snap: devSnapshot(),
		tf:   fakeTerraform{planBytes: []byte("plan bytes"), plan: changes},
		assert: func(t *testing.T, out PlanOutput, store *fakeStore, err error) {
			require.NoError(t, err)
			require.Equal(t, digest([]byte("plan bytes")), out.SHA256)
			require.Equal(t, "idp/plans/dev/"+out.SHA256+".tfplan", out.Key)
			require.Equal(t, []byte("plan bytes"), store.objects["state-dev/"+out.Key])
			require.Equal(t, Summary{SHA256: out.SHA256, Add: 2, Destroy: 1,
				Adds: []string{"aws_iam_role.r", "aws_s3_bucket.b"}, Destroys: []string{"aws_iam_role.r"}}, out.Summary)
		},
	}, {
		name: "an empty snapshot is a config error",
		snap: config.Snapshot{},
		assert: func(t *testing.T, _ PlanOutput, store *fakeStore, err error) {
			require.True(t, fail.Is(err, fail.Config), "got %v", err)
			require.Empty(t, store.objects)
		},
	}, {
		name: "a held state lock is retried",
		snap: devSnapshot(),
		tf:   fakeTerraform{planErr: errLockHeld},
		assert: func(t *testing.T, _ PlanOutput, _ *fakeStore, err error) {
			var locked *StateLockedError
			require.ErrorAs(t, err, &locked)
			require.True(t, retryable(err), "got %v", err)
		},
	}, {
		name: "an unreachable backend at init is retried",
		snap: devSnapshot(),
		tf:   fakeTerraform{initErr: errors.New("exit status 1\n\nError: dial tcp 127.0.0.1:1: connect: connection refused\n")},
		assert: func(t *testing.T, _ PlanOutput, _ *fakeStore, err error) {
			var unreachable *UnreachableError
			require.ErrorAs(t, err, &unreachable)
			require.True(t, retryable(err), "got %v", err)
		},
	}, {
		name: "a configuration error is final, with terraform's diagnostic",
		snap: devSnapshot(),
		tf:   fakeTerraform{planErr: errBadConfig},
		assert: func(t *testing.T, _ PlanOutput, _ *fakeStore, err error) {
			require.True(t, fail.Is(err, fail.Terraform), "got %v", err)
			require.Contains(t, fail.Message(err), "Error: Unsupported argument on main.tf line 3:")
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := &fakeStore{}
			a := withFakes(t, url, &tt.tf, store)
			out, err := a.Plan(context.Background(), PlanInput{Snapshot: tt.snap, Commit: commit, RunID: "r1"})
			tt.assert(t, out, store, err)
		})
	}
}

// The plan file each apply case finds in the store, its digest and its key.
var (
	approvedPlan = []byte("approved plan")
	approvedSHA  = digest(approvedPlan)
	approvedKey  = "idp/plans/dev/" + approvedSHA + ".tfplan"
)

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestApply(t *testing.T) {
	t.Parallel()
	url, commit := platformRepo(t)
	applied := []string{`{"type":"version"}`, applyComplete("aws_s3_bucket.b"), "not json", applyComplete("aws_iam_role.r")}
	outputs := map[string]tfexec.OutputMeta{"cluster_name": {Value: json.RawMessage(`"idp-dev"`)},
		"subnets": {Value: json.RawMessage(`["a","b"]`)}, "token": {Value: json.RawMessage(`"secret"`), Sensitive: true}}
	tests := []struct {
		name   string
		snap   config.Snapshot
		key    string // approvedKey when empty
		sha    string // approvedSHA when empty
		tf     fakeTerraform
		assert func(t *testing.T, out ApplyOutput, tf *fakeTerraform, err error)
	}{{
		name: "applies the approved plan and reports progress and outputs",
		snap: devSnapshot(),
		tf:   fakeTerraform{stream: applied, outputs: outputs},
		assert: func(t *testing.T, out ApplyOutput, tf *fakeTerraform, err error) {
			require.NoError(t, err)
			require.Equal(t, ApplyOutput{Done: 2, Total: 2, Outputs: map[string]string{"cluster_name": "idp-dev", "subnets": `["a","b"]`}}, out)
		},
	}, {
		name: "refuses a plan file whose digest is not the approved one",
		snap: devSnapshot(), sha: strings.Repeat("0", 64),
		assert: func(t *testing.T, _ ApplyOutput, tf *fakeTerraform, err error) {
			require.True(t, fail.Is(err, fail.PlanMismatch), "got %v", err)
			require.False(t, tf.applied, "terraform apply never runs")
		},
	}, {
		name: "a stale plan asks for a new plan",
		snap: devSnapshot(),
		tf: fakeTerraform{applyErr: errors.New("exit status 1\n"), stream: []string{diagnostic(staleMessage,
			"The given plan file can no longer be applied because the state was changed by another operation after the plan was created.")}},
		assert: func(t *testing.T, _ ApplyOutput, _ *fakeTerraform, err error) {
			require.True(t, fail.Is(err, fail.StalePlan), "got %v", err)
			var stale *PlanStaleError
			require.ErrorAs(t, err, &stale)
		},
	}, {
		name: "a held state lock is retried",
		snap: devSnapshot(),
		tf: fakeTerraform{applyErr: errors.New("exit status 1\n"), stream: []string{applyComplete("aws_s3_bucket.b"),
			diagnostic(lockMessage, "Error message: PreconditionFailed\nLock Info:\n  ID: 0b6c3a0e")}},
		assert: func(t *testing.T, out ApplyOutput, _ *fakeTerraform, err error) {
			require.True(t, retryable(err), "got %v", err)
			require.Equal(t, 1, out.Done)
			require.ErrorContains(t, err, "(1 of 2 done)")
		},
	}, {
		name: "a plan file that is gone is not found",
		snap: devSnapshot(), key: "idp/plans/dev/gone.tfplan",
		assert: func(t *testing.T, _ ApplyOutput, tf *fakeTerraform, err error) {
			require.True(t, fail.Is(err, fail.NotFound), "got %v", err)
			require.False(t, tf.applied)
		},
	}, {
		name: "an empty snapshot is a config error",
		snap: config.Snapshot{},
		assert: func(t *testing.T, _ ApplyOutput, tf *fakeTerraform, err error) {
			require.True(t, fail.Is(err, fail.Config), "got %v", err)
			require.False(t, tf.applied)
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := &fakeStore{objects: map[string][]byte{"state-dev/" + approvedKey: approvedPlan}}
			in := ApplyInput{Snapshot: tt.snap, Commit: commit, PlanKey: cmp.Or(tt.key, approvedKey), SHA256: cmp.Or(tt.sha, approvedSHA), Total: 2}
			out, err := withFakes(t, url, &tt.tf, store).Apply(context.Background(), in)
			tt.assert(t, out, &tt.tf, err)
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		assert func(t *testing.T, err error)
	}{
		{"stale plan", errors.New("exit status 1\n│ Error: Saved plan is stale\n"), func(t *testing.T, err error) {
			require.True(t, fail.Is(err, fail.StalePlan), "got %v", err)
		}},
		{"held lock", errLockHeld, func(t *testing.T, err error) {
			var locked *StateLockedError
			require.ErrorAs(t, err, &locked)
			require.True(t, retryable(err))
		}},
		{"provider request error", errors.New("exit status 1\nError: RequestError: send request failed"), func(t *testing.T, err error) {
			var unreachable *UnreachableError
			require.ErrorAs(t, err, &unreachable)
			require.True(t, retryable(err))
		}},
		{"cancelled", fmt.Errorf("terraform: %w", context.Canceled), func(t *testing.T, err error) {
			require.ErrorIs(t, err, context.Canceled)
			require.True(t, retryable(err))
		}},
		{"access denied", errors.New("exit status 1\n│ Error: creating IAM Role (idp-dev-cluster): operation error IAM: CreateRole, https response error StatusCode: 403, RequestID: 1, api error AccessDenied: User: arn:aws:sts::1:assumed-role/idp/idp is not authorized to perform: iam:CreateRole\n"), func(t *testing.T, err error) {
			require.True(t, fail.Is(err, fail.AccessDenied), "got %v", err)
			require.Contains(t, fail.Message(err), "is not authorized to perform: iam:CreateRole", "AWS's message")
			require.Contains(t, fail.Message(err), "environments[].aws.assumeRole", "what to fix")
		}},
		{"configuration error", errBadConfig, func(t *testing.T, err error) {
			require.True(t, fail.Is(err, fail.Terraform), "got %v", err)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := classify(tt.err, "terraform plan in %s", "dev")
			require.ErrorContains(t, err, "terraform plan in dev")
			tt.assert(t, err)
		})
	}
}
