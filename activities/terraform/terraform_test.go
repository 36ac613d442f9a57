package terraform_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/terraform"
	"github.com/alexpermiakov/idp/cmd/sandbox/stack"
	"github.com/alexpermiakov/idp/internal/checkout"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// requireTerraform fails (never skips) when terraform or a provider mirror is missing.
func requireTerraform(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Fatal("terraform is not on PATH: install terraform >= 1.10 (CI installs it in .ci/run)")
	}
	if terraform.ProviderMirror(config.Terraform{}) == "" {
		t.Fatal("no terraform provider mirror found: set IDP_TF_PROVIDER_MIRROR to a filesystem mirror holding hashicorp/aws 5.100.0 (tests never download providers)")
	}
}

// platform is a config whose envs point at one emulator and whose repository is a local
// copy of this checkout's platform content.
func platform(t *testing.T, endpoint string) (*config.Config, string) {
	t.Helper()
	ctx := context.Background()
	url, err := stack.SeedRepository(ctx, filepath.Join("..", ".."), t.TempDir())
	require.NoError(t, err)
	commit, err := checkout.Repo{URL: url}.ResolveCommit(ctx, "main")
	require.NoError(t, err)
	env := func(name string) config.Environment {
		return config.Environment{Name: name, AWS: config.AWS{AccountID: "111111111111", Region: "us-west-2", Endpoint: endpoint},
			StateBucket: "state-" + name, StateKey: "entry/terraform.tfstate", ClusterName: "idp-" + name,
			TerraformVars: stack.TerraformVars}
	}
	cfg := &config.Config{
		Repository:   config.Repository{URL: url, Branch: "main", GitHub: "alexpermiakov/idp"},
		Terraform:    config.Terraform{WorkDir: t.TempDir(), PluginCache: filepath.Join(t.TempDir(), "plugins")},
		Environments: []config.Environment{env("dev"), env("staging")},
	}
	a := aws.New()
	for _, e := range cfg.Environments {
		_, err := a.EnsureStateBackend(ctx, aws.StateBackendInput{Snapshot: mustSnapshot(t, cfg, e.Name)})
		require.NoError(t, err)
	}
	return cfg, commit
}

// againstEmulator gives terraform activities for a platform on a fresh AWS emulator, with the
// platform's config and commit. Outside -short it needs terraform and a provider mirror, and
// fails without them.
func againstEmulator(t *testing.T) (*terraform.Activities, *config.Config, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs terraform against the AWS emulator; not part of -short")
	}
	requireTerraform(t)
	cfg, commit := platform(t, terraform.EmulatorURL())
	repo := checkout.Repo{URL: cfg.Repository.URL, CacheDir: cfg.Terraform.Dir()}
	return terraform.New(cfg.Terraform, repo, terraform.S3PlanStore{}), cfg, commit
}

func TestPlanApplyConvergesAgainstEmulator(t *testing.T) {
	ta, cfg, commit := againstEmulator(t)
	ctx := context.Background()

	plan, err := ta.Plan(ctx, terraform.PlanInput{Snapshot: mustSnapshot(t, cfg, "dev"), Commit: commit, RunID: "r1"})
	require.NoError(t, err)
	require.True(t, plan.HasChanges())
	require.Contains(t, plan.Adds, "module.eks.aws_eks_cluster.this")
	require.Len(t, plan.SHA256, 64)
	// What terraform init made stays for the apply and the next plan of the same commit: a
	// file put beside it survives them (a fresh working directory would not have it).
	kept := filepath.Join(cfg.Terraform.Dir(), "runs", "dev", commit, "infra", "entry", ".terraform", "kept")
	require.NoError(t, os.WriteFile(kept, nil, 0o644))

	other := "0" + plan.SHA256[1:]
	if other == plan.SHA256 {
		other = "1" + plan.SHA256[1:]
	}
	_, err = ta.Apply(ctx, terraform.ApplyInput{Snapshot: mustSnapshot(t, cfg, "dev"), Commit: commit, PlanKey: plan.Key, SHA256: other, Total: plan.Add})
	require.True(t, fail.Is(err, fail.PlanMismatch), "a plan file that is not the approved one is refused: %v", err)

	applied, err := ta.Apply(ctx, terraform.ApplyInput{Snapshot: mustSnapshot(t, cfg, "dev"), Commit: commit, PlanKey: plan.Key, SHA256: plan.SHA256, Total: plan.Add})
	require.NoError(t, err)
	require.Equal(t, plan.Add, applied.Done)
	require.Equal(t, "idp-dev", applied.Outputs["cluster_name"])
	require.NotEmpty(t, applied.Outputs["cluster_endpoint"])

	again, err := ta.Plan(ctx, terraform.PlanInput{Snapshot: mustSnapshot(t, cfg, "dev"), Commit: commit, RunID: "r2"})
	require.NoError(t, err)
	require.False(t, again.HasChanges(), "a second plan shows no changes: %+v", again)
	require.FileExists(t, kept, "the apply and the second plan reused the initialized working directory")
	require.NoFileExists(t, filepath.Join(filepath.Dir(filepath.Dir(kept)), "approved.tfplan"), "the next command does not see the last one's plan file")
}

func TestStalePlanIsRefused(t *testing.T) {
	ta, cfg, commit := againstEmulator(t)
	ctx := context.Background()

	first, err := ta.Plan(ctx, terraform.PlanInput{Snapshot: mustSnapshot(t, cfg, "staging"), Commit: commit, RunID: "a"})
	require.NoError(t, err)
	second, err := ta.Plan(ctx, terraform.PlanInput{Snapshot: mustSnapshot(t, cfg, "staging"), Commit: commit, RunID: "b"})
	require.NoError(t, err)
	_, err = ta.Apply(ctx, terraform.ApplyInput{Snapshot: mustSnapshot(t, cfg, "staging"), Commit: commit, PlanKey: second.Key, SHA256: second.SHA256, Total: second.Add})
	require.NoError(t, err)

	_, err = ta.Apply(ctx, terraform.ApplyInput{Snapshot: mustSnapshot(t, cfg, "staging"), Commit: commit, PlanKey: first.Key, SHA256: first.SHA256, Total: first.Add})
	require.Error(t, err)
	require.True(t, fail.Is(err, fail.StalePlan), "want a StalePlan error, got %v", err)
}

func mustSnapshot(t testing.TB, cfg *config.Config, env string) config.Snapshot {
	t.Helper()
	snap, err := cfg.Snapshot(env)
	require.NoError(t, err)
	return snap
}
