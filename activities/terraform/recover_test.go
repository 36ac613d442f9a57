package terraform

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/alexpermiakov/idp/internal/fail"
)

func lockFile(id string) []byte {
	b, _ := json.Marshal(lockInfo{ID: id, Operation: "OperationTypeApply", Who: "idp@worker-1"})
	return b
}

func applyEvent(typ, addr, action, id string) string {
	b, _ := json.Marshal(map[string]any{"type": typ, "hook": map[string]any{"resource": map[string]string{"addr": addr},
		"action": action, "id_key": "id", "id_value": id}})
	return string(b)
}

// TestApplyAfterKilledAttempt: the retry of an apply whose worker died releases only the lock
// that attempt recorded, and never applies the saved plan over what that attempt created.
func TestApplyAfterKilledAttempt(t *testing.T) {
	t.Parallel()
	url, commit := platformRepo(t)
	created := []Created{{Addr: "module.vpc.aws_vpc.this", ID: "vpc-1"}, {Addr: "module.eks.aws_iam_role_policy_attachment.node[0]", ID: "node-2024"},
		{Addr: "module.eks.aws_iam_role.cluster", ID: "idp-dev-cluster"}}
	tests := []struct {
		name   string
		lock   string // the lock held now; none when empty
		prev   Progress
		assert func(t *testing.T, out ApplyOutput, tf *fakeTerraform, err error)
	}{{
		name: "its own lock and resources: released, and a new plan imports them",
		lock: "L1", prev: Progress{Phase: "applying", LockID: "L1", Created: created},
		assert: func(t *testing.T, _ ApplyOutput, tf *fakeTerraform, err error) {
			require.True(t, fail.Is(err, fail.StalePlan), "got %v", err)
			require.Equal(t, []string{"L1"}, tf.unlocked)
			require.False(t, tf.applied, "the saved plan is not applied over what the dead attempt created")
			rec := RecoveryOf(err)
			require.Equal(t, "L1", rec.ReleasedLock)
			require.Equal(t, []Created{created[0], created[2]}, rec.Imports, "an attachment's ID is not its import ID")
			require.Contains(t, fail.Message(err), "state lock L1 left by the killed apply")
		},
	}, {
		name: "someone else's lock stays",
		lock: "L2", prev: Progress{Phase: "applying", LockID: "L1"},
		assert: func(t *testing.T, out ApplyOutput, tf *fakeTerraform, err error) {
			require.NoError(t, err)
			require.Empty(t, tf.unlocked)
			require.Empty(t, out.Recovered)
			require.True(t, tf.applied)
		},
	}, {
		name: "its own lock, nothing created yet: released, and the saved plan applied",
		lock: "L1", prev: Progress{Phase: "applying", LockID: "L1"},
		assert: func(t *testing.T, out ApplyOutput, tf *fakeTerraform, err error) {
			require.NoError(t, err)
			require.Equal(t, []string{"L1"}, tf.unlocked)
			require.Contains(t, out.Recovered, "state lock L1 left by the killed apply")
			require.True(t, tf.applied)
		},
	}, {
		name: "resources in flight when it died are named",
		lock: "L1", prev: Progress{Phase: "applying", LockID: "L1", Creating: []string{"module.eks.aws_iam_role.node"}},
		assert: func(t *testing.T, out ApplyOutput, tf *fakeTerraform, err error) {
			require.NoError(t, err)
			require.Contains(t, out.Recovered, "1 resources were being created when it died, check them for duplicates: module.eks.aws_iam_role.node")
		},
	}, {
		name: "no lock left, resources created: a new plan imports them",
		prev: Progress{Phase: "applying", LockID: "L1", Created: created[:1]},
		assert: func(t *testing.T, _ ApplyOutput, tf *fakeTerraform, err error) {
			require.True(t, fail.Is(err, fail.StalePlan), "got %v", err)
			require.Empty(t, tf.unlocked)
			require.Equal(t, Recovery{Imports: created[:1]}, RecoveryOf(err))
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := &fakeStore{objects: map[string][]byte{"state-dev/" + approvedKey: approvedPlan}}
			if tt.lock != "" {
				store.objects["state-dev/entry/terraform.tfstate.tflock"] = lockFile(tt.lock)
			}
			tf := &fakeTerraform{}
			a := withFakes(t, url, tf, store)
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestActivityEnvironment()
			env.RegisterActivity(a)
			env.SetHeartbeatDetails(tt.prev)
			var out ApplyOutput
			val, err := env.ExecuteActivity(a.Apply, ApplyInput{Snapshot: devSnapshot(), Commit: commit, PlanKey: approvedKey, SHA256: approvedSHA, Total: 3})
			if err == nil {
				require.NoError(t, val.Get(&out))
			}
			tt.assert(t, out, tf, err)
		})
	}
}

// TestTrackerRecords: once terraform starts applying it holds the lock, whose ID the progress
// records, and every resource it creates is recorded with its ID.
func TestTrackerRecords(t *testing.T) {
	t.Parallel()
	reads := 0
	tr := &tracker{p: Progress{Phase: "applying", Total: 3}, lockID: func() string { reads++; return "L1" }}
	stream := strings.Join([]string{`{"type":"version"}`,
		applyEvent("apply_start", "module.vpc.aws_vpc.this", "create", ""),
		applyEvent("apply_start", "aws_iam_role.r", "create", ""),
		applyEvent("apply_complete", "module.vpc.aws_vpc.this", "create", "vpc-1"),
		applyEvent("apply_complete", "aws_iam_role.old", "delete", ""),
		applyEvent("apply_complete", "aws_iam_role.r", "create", "role-r"),
	}, "\n")
	done, diags := tr.follow(context.Background(), strings.NewReader(stream))
	require.Equal(t, 3, done)
	require.Empty(t, diags)
	require.Equal(t, 1, reads, "the lock is read once, when terraform starts applying")
	require.Equal(t, Progress{Phase: "applying", Done: 3, Total: 3, Last: "aws_iam_role.r", LockID: "L1",
		Created: []Created{{"module.vpc.aws_vpc.this", "vpc-1"}, {"aws_iam_role.r", "role-r"}}}, tr.progress())
}

// TestPlanImports: a plan after a killed apply imports what it created, and counts the imports.
func TestPlanImports(t *testing.T) {
	t.Parallel()
	url, commit := platformRepo(t)
	tf := &fakeTerraform{planBytes: []byte("plan"), plan: &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
		{Address: "module.vpc.aws_vpc.this", Mode: tfjson.ManagedResourceMode, Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionNoop}, Importing: &tfjson.Importing{ID: "vpc-1"}}},
		{Address: "aws_s3_bucket.b", Mode: tfjson.ManagedResourceMode, Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionCreate}}},
	}}}
	a := withFakes(t, url, tf, &fakeStore{})
	out, err := a.Plan(context.Background(), PlanInput{Snapshot: devSnapshot(), Commit: commit, RunID: "r1",
		Imports: []Created{{Addr: `module.vpc.aws_vpc.this`, ID: "vpc-1"}}})
	require.NoError(t, err)
	require.Equal(t, 1, out.Import)
	require.Equal(t, []string{"module.vpc.aws_vpc.this"}, out.Imports)
	require.Equal(t, 1, out.Add)
	require.True(t, out.HasChanges())
	b, err := os.ReadFile(filepath.Join(tf.dir, importFile))
	require.NoError(t, err)
	require.Contains(t, string(b), "import {\n  to = module.vpc.aws_vpc.this\n  id = \"vpc-1\"\n}\n")

	require.Equal(t, "aws_iam_role_policy_attachment", resourceType(`module.eks["a.b"].aws_iam_role_policy_attachment.node[0]`))
	require.Equal(t, "aws_vpc", resourceType("aws_vpc.this"))
}
