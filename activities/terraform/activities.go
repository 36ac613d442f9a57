package terraform

import (
	"context"
	"io"
	"os/exec"
	"path/filepath"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/alexpermiakov/idp/internal/checkout"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// Activities are the terraform activities of one worker. Build them with New.
type Activities struct {
	// settings are this worker's terraform settings (binary, provider mirror, plugin cache,
	// work dir). They are live worker settings, not run data: they describe this host, so
	// they come from the worker's own idp.yaml and may differ between workers, while
	// everything about the env comes from the run's snapshot in the activity input.
	settings config.Terraform
	repo     checkout.Repo
	plans    PlanStore
	// newRunner starts terraform in dir with the process environment env.
	newRunner func(dir string, env map[string]string) (runner, error)
}

// New returns the terraform activities of a worker: settings are the worker's own terraform
// settings (see Activities), repo reaches the platform repository, plans keeps plan files.
// Terraform itself runs through terraform-exec on settings.Binary.
func New(settings config.Terraform, repo checkout.Repo, plans PlanStore) *Activities {
	return &Activities{settings: settings, repo: repo, plans: plans, newRunner: execRunner(settings.Binary)}
}

// PlanStore keeps plan files in an env's state bucket, next to the state they were made
// against. S3PlanStore is the real one.
type PlanStore interface {
	// Put stores body under key in env's state bucket.
	Put(ctx context.Context, env *config.Environment, key string, body []byte) error
	// Get returns the object under key in env's state bucket, or an error wrapping
	// ErrPlanNotFound when there is none.
	Get(ctx context.Context, env *config.Environment, key string) ([]byte, error)
}

// runner is the part of terraform-exec's *tfexec.Terraform the activities use, so unit tests
// can stand in for terraform.
type runner interface {
	Init(ctx context.Context, opts ...tfexec.InitOption) error
	Plan(ctx context.Context, opts ...tfexec.PlanOption) (bool, error)
	ShowPlanFile(ctx context.Context, planPath string, opts ...tfexec.ShowOption) (*tfjson.Plan, error)
	ApplyJSON(ctx context.Context, w io.Writer, opts ...tfexec.ApplyOption) error
	Output(ctx context.Context, opts ...tfexec.OutputOption) (map[string]tfexec.OutputMeta, error)
	ForceUnlock(ctx context.Context, lockID string, opts ...tfexec.ForceUnlockOption) error
	SetStdout(w io.Writer)
}

var _ runner = (*tfexec.Terraform)(nil)

var lookPath = exec.LookPath

// execRunner starts terraform-exec on the worker's terraform binary: an absolute path, or a
// name looked up on PATH ("terraform" when empty).
func execRunner(binary string) func(dir string, env map[string]string) (runner, error) {
	return func(dir string, env map[string]string) (runner, error) {
		bin := binary
		if bin == "" {
			bin = "terraform"
		}
		if !filepath.IsAbs(bin) {
			var err error
			if bin, err = lookPath(bin); err != nil {
				return nil, fail.Wrap(fail.Config, err, "terraform is not installed on this worker (install it, or set terraform.binary in idp.yaml)")
			}
		}
		tf, err := tfexec.NewTerraform(dir, bin)
		if err != nil {
			return nil, err
		}
		if err := tf.SetEnv(env); err != nil {
			return nil, err
		}
		return tf, nil
	}
}
