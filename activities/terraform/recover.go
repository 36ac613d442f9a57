package terraform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/internal/fail"
)

// A worker killed during terraform apply (SIGKILL, OOM, a lost node) leaves two things behind:
// the state lock its terraform held, which nobody releases (an S3 lock file has no expiry), and
// the resources that terraform created but may not have written to the state yet (terraform
// persists state every 20 s during an apply, and at its end). The apply's heartbeat records
// both as they happen: the lock's ID once terraform holds it, and each resource created with
// its ID. The retry reads the last heartbeat of the attempt before it and:
//   - releases the lock only when its ID is the one that attempt recorded: that attempt is
//     over (its heartbeat timed out, and its process group died with its worker), so nobody
//     else can hold that lock; a lock with any other ID is someone else's and stays;
//   - when that attempt created anything, refuses the saved plan as stale (fail.StalePlan)
//     with those resources as Recovery.Imports: the next plan imports them (import blocks,
//     a no-op for what the state already holds) instead of creating them a second time, and is
//     approved again where the env's policy asks.

// Created is a resource an apply created: its address and the ID terraform reported for it,
// which for the resources of infra/ is the ID terraform import takes.
type Created struct {
	Addr string `json:"addr"`
	ID   string `json:"id"`
}

// Recovery is the detail of the fail.StalePlan error an apply returns after an earlier
// attempt died mid-apply: what it released and what the next plan must import.
type Recovery struct {
	// ReleasedLock is the ID of the state lock the dead attempt left, released.
	ReleasedLock string `json:"releasedLock,omitempty"`
	// Imports are the resources the dead attempt created.
	Imports []Created `json:"imports,omitempty"`
}

// lockInfo is the JSON terraform writes into a state lock (the S3 backend's <key>.tflock).
type lockInfo struct {
	ID        string `json:"ID"`
	Operation string `json:"Operation"`
	Who       string `json:"Who"`
	Created   string `json:"Created"`
}

// readLock returns the env's state lock, or nil when nobody holds it.
func (a *Activities) readLock(ctx context.Context, ws *workspace) (*lockInfo, error) {
	b, err := a.plans.Get(ctx, ws.env, ws.env.StateKey+".tflock")
	if errors.Is(err, ErrPlanNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var l lockInfo
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("reading the state lock s3://%s/%s.tflock: %w", ws.env.StateBucket, ws.env.StateKey, err)
	}
	return &l, nil
}

// previousAttempt is the last progress the attempt before this one recorded, if any.
func previousAttempt(ctx context.Context) (Progress, bool) {
	var p Progress
	if !activity.IsActivity(ctx) || !activity.HasHeartbeatDetails(ctx) {
		return p, false
	}
	if err := activity.GetHeartbeatDetails(ctx, &p); err != nil {
		return p, false
	}
	return p, true
}

// recoverFrom cleans up after prev, the attempt before this one, as the comment at the top of
// this file says. It returns a note for the run's status when it released a lock, and a
// fail.StalePlan error carrying a Recovery when prev created resources.
func (a *Activities) recoverFrom(ctx context.Context, ws *workspace, prev Progress, attempt int32) (string, error) {
	var rec Recovery
	if prev.LockID != "" {
		lock, err := a.readLock(ctx, ws)
		if err != nil {
			return "", err
		}
		if lock != nil && lock.ID == prev.LockID {
			if err := ws.tf.ForceUnlock(ctx, lock.ID); err != nil {
				return "", classify(err, "releasing the state lock %s left by attempt %d", lock.ID, attempt-1)
			}
			rec.ReleasedLock = lock.ID
			activity.GetLogger(ctx).Info("released the state lock of a dead apply", "lockID", lock.ID, "who", lock.Who, "created", lock.Created)
		}
	}
	var notes []string
	if rec.ReleasedLock != "" {
		notes = append(notes, fmt.Sprintf("state lock %s left by the killed apply (attempt %d) released", rec.ReleasedLock, attempt-1))
	}
	if len(prev.Creating) > 0 {
		// No ID came back for these: if AWS made them, terraform finds a name taken or
		// makes a second one. Status names them so a person can look.
		notes = append(notes, fmt.Sprintf("%d resources were being created when it died, check them for duplicates: %s",
			len(prev.Creating), strings.Join(prev.Creating, ", ")))
	}
	note := strings.Join(notes, "; ")
	if len(prev.Created) == 0 {
		return note, nil
	}
	rec.Imports = importable(prev.Created)
	msg := fmt.Sprintf("attempt %d died after creating %d resources (%s): a new plan imports them", attempt-1, len(prev.Created), addrs(prev.Created))
	if note != "" {
		msg = note + "; " + msg
	}
	return note, temporal.NewNonRetryableApplicationError(msg, fail.StalePlan, nil, rec)
}

// notImportable are resource types whose ID is not what terraform import takes; creating them
// again is harmless (an attachment) or fails with a clear AWS error naming the duplicate.
var notImportable = []string{"aws_route", "aws_route_table_association", "aws_iam_role_policy_attachment"}

// importable keeps the resources a plan can import by the ID terraform reported.
func importable(cs []Created) []Created {
	var out []Created
	for _, c := range cs {
		if !slices.Contains(notImportable, resourceType(c.Addr)) {
			out = append(out, c)
		}
	}
	return out
}

// instanceKeys are the [0] and ["key"] of an address.
var instanceKeys = regexp.MustCompile(`\[[^\]]*\]`)

// resourceType is the type of the resource at addr (module.vpc.aws_subnet.public[0] →
// aws_subnet).
func resourceType(addr string) string {
	parts := strings.Split(instanceKeys.ReplaceAllString(addr, ""), ".")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "module" {
			i++
			continue
		}
		return parts[i]
	}
	return ""
}

func addrs(cs []Created) string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Addr)
	}
	if len(out) > 4 {
		out = append(out[:4], "…")
	}
	return strings.Join(out, ", ")
}

// RecoveryOf returns the Recovery a fail.StalePlan error carries, if any.
func RecoveryOf(err error) Recovery {
	var rec Recovery
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.HasDetails() {
		_ = app.Details(&rec)
	}
	return rec
}

// importFile is the file a plan with imports writes into the working directory.
const importFile = "idp_recovered_imports.tf"

// importBlocks is the configuration that imports cs: one import block each.
func importBlocks(cs []Created) string {
	sorted := append([]Created(nil), cs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Addr < sorted[j].Addr })
	var b strings.Builder
	b.WriteString("# Written by idp: resources a killed terraform apply created, imported instead of created again.\n")
	for _, c := range sorted {
		fmt.Fprintf(&b, "import {\n  to = %s\n  id = %s\n}\n", c.Addr, strconv.Quote(c.ID))
	}
	return b.String()
}
