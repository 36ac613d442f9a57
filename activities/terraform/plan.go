package terraform

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
	"go.temporal.io/sdk/activity"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

var lookPath = exec.LookPath

// PlanInput asks for a plan of infra/entry in one env at one commit.
type PlanInput struct {
	Env    string `json:"env"`
	Commit string `json:"commit"`
	// RunID keeps plan files of different runs apart.
	RunID string `json:"runId"`
}

// PlanOutput summarizes a saved plan and says where it is kept.
type PlanOutput struct {
	// Key is the plan file's object key in the env's state bucket.
	Key string `json:"key"`
	// SHA256 is the plan file's digest: what people approve and what apply verifies.
	SHA256   string   `json:"sha256"`
	Add      int      `json:"add"`
	Change   int      `json:"change"`
	Destroy  int      `json:"destroy"`
	Adds     []string `json:"adds,omitempty"`
	Changes  []string `json:"changes,omitempty"`
	Destroys []string `json:"destroys,omitempty"`
}

// HasChanges reports whether applying the plan would do anything.
func (p PlanOutput) HasChanges() bool { return p.Add+p.Change+p.Destroy > 0 }

// Plan runs terraform plan of infra/entry for the env at the commit, keeps the plan file in
// the env's state bucket and returns its digest and a summary of what it would do.
func (a *Activities) Plan(ctx context.Context, in PlanInput) (PlanOutput, error) {
	stop := keepAlive(ctx, "planning")
	defer stop()
	ws, err := a.open(ctx, in.Env, in.Commit)
	if err != nil {
		return PlanOutput{}, err
	}
	planPath := filepath.Join(ws.dir, "idp.tfplan")
	var opts []tfexec.PlanOption
	if varFile := filepath.Join(ws.dir, "env", ws.env.Name+".tfvars"); fileExists(varFile) {
		opts = append(opts, tfexec.VarFile(varFile))
	}
	if _, err := ws.tf.Plan(ctx, append(opts, tfexec.Out(planPath))...); err != nil {
		return PlanOutput{}, classify(err, "terraform plan in %s", in.Env)
	}
	plan, err := ws.tf.ShowPlanFile(ctx, planPath)
	if err != nil {
		return PlanOutput{}, classify(err, "reading the plan in %s", in.Env)
	}
	out := summarize(plan)
	b, err := os.ReadFile(planPath)
	if err != nil {
		return PlanOutput{}, err
	}
	sum := sha256.Sum256(b)
	out.SHA256 = hex.EncodeToString(sum[:])
	out.Key = fmt.Sprintf("idp/plans/%s/%s.tfplan", in.Env, out.SHA256)
	if err := putObject(ctx, ws.env, out.Key, b); err != nil {
		return PlanOutput{}, err
	}
	return out, nil
}

// summarize counts the plan's actions the way terraform prints them: a replacement is one
// add and one destroy.
func summarize(p *tfjson.Plan) PlanOutput {
	var out PlanOutput
	for _, rc := range p.ResourceChanges {
		if rc.Change == nil || rc.Mode == tfjson.DataResourceMode {
			continue
		}
		acts := rc.Change.Actions
		switch {
		case acts.Replace():
			out.Add++
			out.Destroy++
			out.Adds = append(out.Adds, rc.Address)
			out.Destroys = append(out.Destroys, rc.Address)
		case acts.Create():
			out.Add++
			out.Adds = append(out.Adds, rc.Address)
		case acts.Update():
			out.Change++
			out.Changes = append(out.Changes, rc.Address)
		case acts.Delete():
			out.Destroy++
			out.Destroys = append(out.Destroys, rc.Address)
		}
	}
	slices.Sort(out.Adds)
	slices.Sort(out.Changes)
	slices.Sort(out.Destroys)
	return out
}

func putObject(ctx context.Context, env *config.Environment, key string, b []byte) error {
	cfg, err := awsconf.Load(ctx, env.AWS)
	if err != nil {
		return err
	}
	_, err = awsconf.S3(cfg).PutObject(ctx, &s3.PutObjectInput{Bucket: &env.StateBucket, Key: &key, Body: bytes.NewReader(b)})
	if err != nil {
		return fmt.Errorf("storing plan file s3://%s/%s: %w", env.StateBucket, key, err)
	}
	return nil
}

func getObject(ctx context.Context, env *config.Environment, key string) ([]byte, error) {
	cfg, err := awsconf.Load(ctx, env.AWS)
	if err != nil {
		return nil, err
	}
	obj, err := awsconf.S3(cfg).GetObject(ctx, &s3.GetObjectInput{Bucket: &env.StateBucket, Key: awssdk.String(key)})
	if err != nil {
		if strings.Contains(err.Error(), "NoSuchKey") {
			return nil, fail.Wrap(fail.NotFound, err, "plan file s3://%s/%s is gone", env.StateBucket, key)
		}
		return nil, fmt.Errorf("fetching plan file s3://%s/%s: %w", env.StateBucket, key, err)
	}
	defer obj.Body.Close()
	return io.ReadAll(obj.Body)
}

// classify turns terraform's failures into errors a workflow can act on. Configuration and
// provider errors will not go away on a retry; a held state lock or a network failure may.
func classify(err error, format string, args ...any) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Saved plan is stale"):
		return fail.Wrap(fail.StalePlan, err, format, args...)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf(format+": %w", append(args, err)...)
	case strings.Contains(msg, "Error acquiring the state lock"), strings.Contains(msg, "connection refused"),
		strings.Contains(msg, "RequestError"), strings.Contains(msg, "i/o timeout"):
		return fmt.Errorf(format+": %w", append(args, err)...)
	default:
		return fail.Wrap(fail.Terraform, errors.New(lastDiagnostic(msg)), format, args...)
	}
}

// lastDiagnostic keeps terraform's "Error: ..." lines, which say what went wrong, and drops
// the usage noise around them.
func lastDiagnostic(msg string) string {
	var keep []string
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(strings.Trim(line, "│╷╵ "))
		if line != "" {
			keep = append(keep, line)
		}
	}
	if len(keep) > 12 {
		keep = keep[:12]
	}
	return strings.Join(keep, " ")
}

// keepAlive heartbeats while a long terraform command runs, so a dead worker is noticed and a
// cancellation reaches the command (terraform-exec interrupts it with SIGINT).
func keepAlive(ctx context.Context, what string) func() {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx, Progress{Phase: what})
			}
		}
	}()
	return func() { close(done) }
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
