//go:build bench

package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/workflows/api"
)

// bootstrapRest bootstraps staging and prod, each approved by a second person as soon as it
// asks.
func bootstrapRest(t *testing.T, r *rig, _ mode, _ *results) {
	start := time.Now()
	r.must("bootstrap", "--env", "staging", "--as", "alice")
	r.must("bootstrap", "--env", "prod", "--as", "carol")
	for _, env := range []string{"staging", "prod"} {
		id := api.BootstrapID(env)
		r.await(id, 5*time.Minute, 500*time.Millisecond, func(st api.Status) bool { return st.Stage == api.StageWaitingApproval })
		r.must("approve", id, "--as", "bob")
	}
	for _, env := range []string{"staging", "prod"} {
		st, _, _ := r.result(api.BootstrapID(env))
		require.Equal(t, api.StageDone, st.Stage, "%s: %s", env, st.Error)
	}
	t.Logf("staging and prod bootstrapped in %s", time.Since(start).Round(time.Second))
}

// fullConfig is the sandbox's idp.yaml with a sha tag allowed on from dev to staging (the
// sandbox takes only releases there) and no soak anywhere: one run takes one image through
// dev, staging and prod.
func fullConfig(t *testing.T) func(string) string {
	return func(y string) string {
		for _, rep := range [][2]string{
			{`entryPattern: '^v\d+\.\d+\.\d+$'`, `entryPattern: '^(v\d+\.\d+\.\d+|sha-[0-9a-f]{7,40})$'`},
			{"soak: 5s", "soak: 0s"},
			{"soak: 90s", "soak: 0s"},
		} {
			require.Contains(t, y, rep[0], "the sandbox's idp.yaml changed: the bench's edit no longer applies")
			y = strings.ReplaceAll(y, rep[0], rep[1])
		}
		return y
	}
}

// fullPromotion: one image from dev through staging to prod, prod's approval given as soon as
// it is asked, no soak; Runs times. The first run's history size is recorded.
func fullPromotion(t *testing.T, r *rig, m mode, res *results) {
	r.useConfig(fullConfig(t))
	prod := r.apps("prod")
	for i := range m.Runs {
		tag := newTag()
		r.push("time-service", tag)
		id := api.PromoteID("time-service", tag)
		start := time.Now()
		r.must("promote", "--service", "time-service", "--tag", tag, "--to", "prod", "--as", "alice")
		asked := r.await(id, 5*time.Minute, 100*time.Millisecond, func(st api.Status) bool {
			return st.Stage == api.StageWaitingApproval || st.Stage == api.StageFailed
		})
		require.Equal(t, api.StageWaitingApproval, asked.Stage, asked.Error)
		require.Equal(t, "prod", asked.PendingApproval.Env)
		askedAt := time.Now()
		r.must("approve", id, "--as", "bob")
		st, _, _ := r.result(id)
		took := time.Since(start)
		require.Equal(t, api.StageDone, st.Stage, st.Error)
		require.Len(t, st.Environments, 3)
		for _, e := range st.Environments {
			require.Equal(t, api.EnvDone, e.State, e.Name)
		}
		p := st.Environments[2]
		a, err := prod.get("time-service-prod")
		require.NoError(t, err)
		require.True(t, a.runs(p.Commit, p.Image), "prod runs %s at %s: %+v", p.Image, p.Commit, a)
		res.add("fullPromotion", took)
		res.add("breakdown.fullToApproval", askedAt.Sub(start))
		if i == 0 {
			res.HistoryEvents.Promotion3env, res.HistoryEvents.Promotion3envByType = r.history(id)
			require.Positive(t, res.HistoryEvents.Promotion3env)
		}
		t.Logf("%s: dev→staging→prod in %s (approval asked after %s)", tag, took.Round(time.Millisecond), askedAt.Sub(start).Round(time.Millisecond))
	}
}

// healthWaits: two promotions into dev whose health wait lasts the two lengths (dev's
// application controller stopped that long after the run starts): their histories must be
// the same size, as long waits poll inside one heartbeating activity.
func healthWaits(t *testing.T, r *rig, m mode, res *results) {
	res.HistoryEvents.HealthWait = map[string]int{}
	res.HistoryEvents.HealthWaitByType = map[string]map[string]int{}
	const ctrl = "dev-argocd-application-controller"
	for _, wait := range m.HealthWaits {
		tag := newTag()
		r.push("time-service", tag)
		id := api.PromoteID("time-service", tag)
		require.NoError(t, r.S.Kill(ctrl))
		start := time.Now()
		r.must("promote", "--service", "time-service", "--tag", tag, "--to", "dev", "--as", "alice")
		r.await(id, time.Minute, 200*time.Millisecond, func(st api.Status) bool { return st.Stage == api.StageVerifying })
		time.Sleep(wait - time.Since(start))
		require.NoError(t, r.S.Restart(ctrl))
		st, _, _ := r.result(id)
		require.Equal(t, api.StageDone, st.Stage, st.Error)
		n, types := r.history(id)
		res.HistoryEvents.HealthWait[fmt.Sprintf("%gs", wait.Seconds())] = n
		res.HistoryEvents.HealthWaitByType[fmt.Sprintf("%gs", wait.Seconds())] = types
		t.Logf("a health wait of %s: promotion took %s, %d history events", wait, time.Since(start).Round(time.Second), n)
	}
}
