package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/workflows/api"
)

// run is the state every idp workflow keeps: its status document, published through the
// status query, the IdpStage search attribute and the current details shown in the Web UI.
type run struct {
	status *api.Status
	// out is what the run still has to tell people (tell.go).
	out outbox
	// lockWait is the lock the run waits for, shown in its current details; not in the status
	// document, whose env state says waiting-lock.
	lockWait *lockWait
	// parent is the train a member's run belongs to: the member's steps and stages show in the
	// train's status, and the Web UI shows the train's details.
	parent *run
	// sync, when set, brings the status up to date before it is published (a train gathers
	// its members' states).
	sync func()
	// local says quick reads run as local activities (quick): set by runs started since
	// localReadsVersion.
	local bool
	// lean says the run waits for an env's app-of-apps and app in one activity and sends no
	// event that no notify target of its env wants: set by runs started since leanWaits.
	lean bool
	// askFirst says the run reads an env's freezes and pins (the controls query) before it
	// asks at the door, and asks only when the env is frozen: set by runs started since
	// doorQuery.
	askFirst bool
	// upserted and upsertedEnv are the IdpStage and IdpEnvironment values last written (or
	// set at the start), so that a run with local reads does not write an unchanged one again.
	upserted    api.Stage
	upsertedEnv string
}

// localReadsVersion marks runs whose quick reads (the plan, the image's digest, freezes, the
// image an env runs, the requester's and approvers' keys, asking a lock or the door) run as
// local activities, and whose health waits ask Argo CD for the refresh themselves: each read
// is then one marker in the history instead of an activity task's three events and the
// workflow task that follows, and takes no round trip through the server's task queue. Runs
// recorded before it replay with regular activities.
const localReadsVersion = "local-reads"

// leanWaits is the second version of localReadsVersion (one change ID, so that new runs
// still write one version marker): an env's app-of-apps and then its app are waited for in
// one WaitApp (Root), and a notification no target of the env wants is not sent (no Send
// activity that would find nobody to tell).
const leanWaits workflow.Version = 2

// doorQuery is the third version of localReadsVersion: a run reads the env's freezes and pins
// with the controls query (a local activity, no event in the Controls workflow) and goes
// through the door's signals only when the env is frozen or the read fails. At the door, a
// hundred runs entering dev at once each waited for the one Controls workflow's turn.
const doorQuery workflow.Version = 3

// useLocalReads has r run its quick reads as local activities when the run was started since
// localReadsVersion, taking the search attributes the run was started with as written.
func (r *run) useLocalReads(ctx workflow.Context) {
	v := workflow.GetVersion(ctx, localReadsVersion, workflow.DefaultVersion, doorQuery)
	if v < 1 {
		return
	}
	r.local, r.lean, r.askFirst = true, v >= leanWaits, v >= doorQuery
	r.out.current = true
	attrs := workflow.GetTypedSearchAttributes(ctx)
	if stage, ok := attrs.GetKeyword(api.AttrStage); ok {
		r.upserted = api.Stage(stage)
	}
	r.upsertedEnv, _ = attrs.GetKeyword(api.AttrEnvironment)
}

// setEnv writes the env the run works in now to IdpEnvironment (destroy refuses while runs
// work in the env).
func (r *run) setEnv(ctx workflow.Context, env string) {
	if r.local && env == r.upsertedEnv {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, api.AttrEnvironment.ValueSet(env)); err != nil {
		workflow.GetLogger(ctx).Warn("upserting IdpEnvironment", "error", err)
	}
	r.upsertedEnv = env
}

// since is workflow.GetVersion(ctx, changeID, workflow.DefaultVersion, max), except in runs
// started since localReadsVersion: every change guarded before it is in those, so they take
// max without asking (each first GetVersion of a new run writes a marker and upserts
// TemporalChangeVersion, two events). Changes after localReadsVersion call workflow.GetVersion.
func (r *run) since(ctx workflow.Context, changeID string, max workflow.Version) workflow.Version {
	if r.local {
		return max
	}
	return workflow.GetVersion(ctx, changeID, workflow.DefaultVersion, max)
}

// quick runs a short call to an external API (a read, or a signal to another workflow): as a
// local activity where r.local says so, else as a regular one. Its retries are those of
// activityOptions either way; a local activity's longer backoffs become timers.
func (r *run) quick(ctx workflow.Context, summary string, timeout time.Duration, activity any, args ...any) workflow.Future {
	o := activityOptions(summary, timeout)
	if !r.local {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, o), activity, args...)
	}
	return workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		Summary: summary, StartToCloseTimeout: o.StartToCloseTimeout, RetryPolicy: o.RetryPolicy}), activity, args...)
}

func newRun(ctx workflow.Context, kind, requester string) (*run, error) {
	info := workflow.GetInfo(ctx)
	r := &run{status: &api.Status{WorkflowID: info.WorkflowExecution.ID, Kind: kind, Requester: requester,
		Environments: []api.EnvStatus{}, Approvals: []api.Decision{}}}
	if err := workflow.SetQueryHandler(ctx, api.StatusQuery, func() (api.Status, error) { return *r.status, nil }); err != nil {
		return nil, fmt.Errorf("registering status query: %w", err)
	}
	return r, nil
}

// setStage records the stage and republishes it.
func (r *run) setStage(ctx workflow.Context, stage api.Stage) {
	r.status.Stage = stage
	if r.parent != nil {
		r.parent.status.Stage = stage
	}
	// Runs with local reads write IdpStage only when it changes (each write is an event).
	if !r.local || stage != r.upserted {
		if err := workflow.UpsertTypedSearchAttributes(ctx, api.AttrStage.ValueSet(string(stage))); err != nil {
			workflow.GetLogger(ctx).Warn("upserting IdpStage", "error", err)
		}
		r.upserted = stage
	}
	r.publish(ctx)
}

// step appends a line to the run's log of what it did and found.
func (r *run) step(ctx workflow.Context, format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	r.status.Steps = append(r.status.Steps, line)
	if r.parent != nil {
		r.parent.status.Steps = append(r.parent.status.Steps, line)
	}
	workflow.GetLogger(ctx).Info(line)
	r.publish(ctx)
}

// env returns the named environment's status entry, adding it when missing.
func (r *run) env(name string) *api.EnvStatus {
	for i := range r.status.Environments {
		if r.status.Environments[i].Name == name {
			return &r.status.Environments[i]
		}
	}
	r.status.Environments = append(r.status.Environments, api.EnvStatus{Name: name, State: api.EnvPending})
	return &r.status.Environments[len(r.status.Environments)-1]
}

// failed marks the run failed with the error's own message and returns the error.
func (r *run) failed(ctx workflow.Context, err error) error {
	r.status.Error = fail.Message(err)
	r.lockWait = nil // a run cancelled in the queue waits for nothing now
	r.setStage(ctx, api.StageFailed)
	return err
}

// publish writes the markdown the Web UI shows as the run's current details.
func (r *run) publish(ctx workflow.Context) {
	if r.parent != nil {
		r.parent.publish(ctx)
		return
	}
	if r.sync != nil {
		r.sync()
	}
	st := r.status
	// fmt.Fprintf counts as I/O to workflowcheck; Sprintf into a builder is plain computation.
	var b strings.Builder
	b.WriteString(fmt.Sprintf("**%s** · stage `%s`", st.Kind, st.Stage))
	if st.Commit != "" {
		b.WriteString(fmt.Sprintf(" · commit `%s`", short(st.Commit)))
	}
	b.WriteString("\n\n")
	// What the run waits for comes first: the Web UI shows the top of the details.
	if st.Frozen != "" {
		b.WriteString(fmt.Sprintf("**Waiting at the door**: %s.\n\n", st.Frozen))
	}
	if pa := st.PendingApproval; pa != nil {
		b.WriteString(pendingMarkdown(st, pa))
	}
	if st.Train != nil {
		b.WriteString(trainMarkdown(st.Train))
	}
	if l := r.lockWait; l != nil {
		b.WriteString(fmt.Sprintf("**%s**: one promotion per service per env at a time; the lock is the run `%s`\n\n",
			lockSummary(l.key), l.id))
	}
	if st.Requester != "" {
		b.WriteString(fmt.Sprintf("Requested by %s\n\n", st.RequestedBy()))
	}
	if p := st.Plan; p != nil {
		b.WriteString(fmt.Sprintf("Plan `%s`: %d to add, %d to change, %d to destroy\n\n", short(p.SHA256), p.Add, p.Change, p.Destroy))
		for _, a := range limit(p.Adds, 10) {
			b.WriteString(fmt.Sprintf("- \\+ `%s`\n", a))
		}
		for _, a := range limit(p.Changes, 10) {
			b.WriteString(fmt.Sprintf("- ~ `%s`\n", a))
		}
		for _, a := range limit(p.Destroys, 10) {
			b.WriteString(fmt.Sprintf("- \\- `%s`\n", a))
		}
		b.WriteString("\n")
	}
	for _, e := range st.Environments {
		if e.SoakUntil != nil {
			b.WriteString(fmt.Sprintf("**Soaking** in %s until %s: the Application must stay Healthy at `%s`.\n\n", e.Name, e.SoakUntil.Format(time.RFC3339), e.Image))
		}
	}
	for _, d := range st.Approvals {
		signed := "unsigned"
		switch {
		case d.Source == api.SourceGitHubReview:
			signed = "by a GitHub review as `" + strings.TrimPrefix(d.Key, "github:") + "`"
		case d.Verified:
			signed = "signed with `" + d.Key + "`"
		}
		b.WriteString(fmt.Sprintf("- %s by %s at %s, %s\n", d.Decision, d.Who, d.When.Format(time.RFC3339), signed))
	}
	if st.Error != "" {
		b.WriteString(fmt.Sprintf("\n**Failed:** %s\n", st.Error))
	}
	workflow.SetCurrentDetails(ctx, b.String())
}

func limit(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("… and %d more", len(s)-n))
	}
	return s
}

// activityOptions are the defaults for activities that talk to an external API.
func activityOptions(summary string, timeout time.Duration) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		Summary:             summary,
		StartToCloseTimeout: timeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    10,
		},
	}
}
