package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/cmd/sandbox/stack"
	"github.com/alexpermiakov/idp/internal/cli"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/workflows/api"
)

// raceEvery is how often the loop commits to main.
const raceEvery = 200 * time.Millisecond

// raceLoop commits unrelated changes (one new file under docs/race/ each) to main of the
// platform repository with plain git, as people and other tools do, until stopped.
type raceLoop struct {
	dir  string
	stop chan struct{}
	done chan struct{}
	// landed are the subjects of the commits pushed to main; err is why the loop gave up.
	landed []string
	err    error
}

func gitIn(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-c", "user.name=someone else", "-c", "user.email=docs@idp.local"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func startRace(t *testing.T, url string) *raceLoop {
	t.Helper()
	r := &raceLoop{dir: filepath.Join(t.TempDir(), "clone"), stop: make(chan struct{}), done: make(chan struct{})}
	_, err := gitIn("", "clone", "--quiet", url, r.dir)
	require.NoError(t, err)
	go r.run()
	return r
}

func (r *raceLoop) run() {
	defer close(r.done)
	for i := 1; ; i++ {
		select {
		case <-r.stop:
			return
		case <-time.After(raceEvery):
		}
		subject := fmt.Sprintf("docs: unrelated change %d", i)
		if err := os.MkdirAll(filepath.Join(r.dir, "docs", "race"), 0o755); err != nil {
			r.err = err
			return
		}
		if err := os.WriteFile(filepath.Join(r.dir, "docs", "race", fmt.Sprintf("%d.md", i)), []byte(subject+"\n"), 0o644); err != nil {
			r.err = err
			return
		}
		if _, err := gitIn(r.dir, "add", "docs"); err != nil {
			r.err = err
			return
		}
		if _, err := gitIn(r.dir, "commit", "--quiet", "-m", subject); err != nil {
			r.err = err
			return
		}
		if r.err = r.push(); r.err != nil {
			return
		}
		r.landed = append(r.landed, subject)
	}
}

// push lands the commit on main, rebasing onto whatever landed meanwhile, as a person would.
func (r *raceLoop) push() error {
	var err error
	for attempt := 0; attempt < 30; attempt++ {
		if _, err = gitIn(r.dir, "push", "--quiet", "origin", "HEAD:main"); err == nil {
			return nil
		}
		if _, ferr := gitIn(r.dir, "pull", "--quiet", "--rebase", "origin", "main"); ferr != nil {
			err = ferr
		}
	}
	return fmt.Errorf("could not push to main in 30 attempts: %w", err)
}

// finish stops the loop and returns what it landed.
func (r *raceLoop) finish(t *testing.T) []string {
	t.Helper()
	close(r.stop)
	<-r.done
	require.NoError(t, r.err)
	return r.landed
}

// promoted is one promotion of the race and where it ended.
type promoted struct {
	id, service string
	st          api.Status
}

// mainRace: while a loop commits unrelated changes to main every 200 ms, a prod merge (an
// approved prod promotion) and 20 dev promotions (10 sha tags of each service, started at
// once) land. Every unrelated commit survives, every promotion's commit is on main, none fails
// or rolls back, and each service's dev manifest ends with the image of its last to land.
func mainRace(t *testing.T, cfg *config.Config, g *gateRuns) {
	ctx := context.Background()
	start := time.Now()
	// Staging requires dev first: the release is cut from a build that ran Healthy in dev.
	sandboxCLI(t, g.s, "image", "push", "version-service", "sha-3f0e1d2")
	code, out := starter(t, "promote", "--service", "version-service", "--tag", "sha-3f0e1d2", "--wait", "--as", "alice")
	require.Equal(t, 0, code, out)
	sandboxCLI(t, g.s, "image", "push", "version-service", "v3.0.0", "--like", "sha-3f0e1d2")
	prodID := api.PromoteID("version-service", "v3.0.0")
	code, out = starter(t, "promote", "--service", "version-service", "--tag", "v3.0.0", "--to", "prod", "--as", "alice")
	require.Equal(t, 0, code, out)
	var devs []promoted
	for i := range 10 {
		for j, svc := range []string{"time-service", "version-service"} {
			tag := fmt.Sprintf("sha-%07x", 0xace0000+j*0x1000+i)
			_, err := stack.PushImage(ctx, cfg.Tooling.AWS.Endpoint, stack.PushOptions{Service: svc, Tag: tag})
			require.NoError(t, err)
			devs = append(devs, promoted{id: api.PromoteID(svc, tag), service: svc})
		}
	}
	st := awaitStatus(t, prodID, 4*time.Minute, func(st api.Status) bool { return waitingIn("prod")(st) || ended(st) })
	require.Equal(t, api.StageWaitingApproval, st.Stage, st.Error)
	t.Logf("main race: prod promotion waiting after %s", time.Since(start).Round(time.Second))

	race := startRace(t, cfg.Repository.URL)
	raceStart := time.Now()
	var wg sync.WaitGroup
	codes := make([]int, len(devs))
	outs := make([]string, len(devs))
	for i, p := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b bytes.Buffer
			tag := strings.TrimPrefix(p.id, api.PromoteIDPrefix+p.service+"-")
			codes[i] = cli.Main(ctx, []string{"promote", "--service", p.service, "--tag", tag, "--as", "alice"}, &b, &b)
			outs[i] = b.String()
		}()
	}
	wg.Wait()
	for i := range devs {
		require.Equal(t, 0, codes[i], outs[i])
	}
	code, out = starter(t, "approve", prodID, "--as", "bob")
	require.Equal(t, 0, code, out)

	deadline, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	for _, id := range append([]string{prodID}, idsOf(devs)...) {
		_ = g.c.GetWorkflow(deadline, id, "").Get(deadline, nil) // the outcome is checked below
	}
	landed := race.finish(t)
	took := time.Since(raceStart).Round(time.Second)
	t.Logf("main race: %d unrelated commits, 20 dev promotions and a prod merge in %s", len(landed), took)

	checkRaceCommits(t, cfg, landed)
	prod := status(t, prodID)
	require.Equal(t, api.StageDone, prod.Stage, prod.Error)
	require.Equal(t, prod.Environments[1].Image, pinned(t, cfg, "prod", "version-service"))
	order := mainOrder(t, cfg)
	_, onMain := order[prod.Environments[1].Commit]
	require.True(t, onMain, "the prod merge is on main")
	for i := range devs {
		devs[i].st = status(t, devs[i].id)
	}
	checkDevPromotions(t, cfg, devs, order)
	require.Less(t, took, 8*time.Minute, "the race should take about 5 minutes on this machine kind")
}

func idsOf(ps []promoted) []string {
	ids := make([]string, 0, len(ps))
	for _, p := range ps {
		ids = append(ids, p.id)
	}
	return ids
}

// mainOrder maps each commit on main to its position, newest first.
func mainOrder(t *testing.T, cfg *config.Config) map[string]int {
	t.Helper()
	bare := strings.TrimPrefix(cfg.Repository.URL, "file://")
	out, err := exec.Command("git", "--git-dir", bare, "rev-list", "main").Output()
	require.NoError(t, err)
	order := map[string]int{}
	for i, c := range strings.Fields(string(out)) {
		order[c] = i
	}
	return order
}

// checkRaceCommits: every unrelated commit is in main's history and its file at main's tip.
func checkRaceCommits(t *testing.T, cfg *config.Config, landed []string) {
	t.Helper()
	require.NotEmpty(t, landed)
	bare := strings.TrimPrefix(cfg.Repository.URL, "file://")
	out, err := exec.Command("git", "--git-dir", bare, "log", "--format=%s", "main").Output()
	require.NoError(t, err)
	subjects := map[string]int{}
	for _, s := range strings.Split(string(out), "\n") {
		subjects[s]++
	}
	for _, s := range landed {
		require.Equal(t, 1, subjects[s], "%q is on main once", s)
	}
	files, err := exec.Command("git", "--git-dir", bare, "ls-tree", "--name-only", "main", "docs/race/").Output()
	require.NoError(t, err)
	require.Len(t, strings.Fields(string(files)), len(landed), "every unrelated file is at main's tip")
}

// checkDevPromotions: each ended done or superseded, its commit on main; each service's dev
// manifest holds the image of its promotion that landed last.
func checkDevPromotions(t *testing.T, cfg *config.Config, devs []promoted, order map[string]int) {
	t.Helper()
	last := map[string]promoted{}
	states := map[api.EnvState]int{}
	defer func() { t.Logf("dev promotions ended: %v", states) }()
	for _, p := range devs {
		require.Equal(t, api.StageDone, p.st.Stage, "%s: %s", p.id, p.st.Error)
		require.Empty(t, p.st.Error, p.id)
		dev := p.st.Environments[0]
		states[dev.State]++
		require.Contains(t, []api.EnvState{api.EnvDone, api.EnvSuperseded}, dev.State, p.id)
		pos, ok := order[dev.Commit]
		require.True(t, ok, "%s: its commit %s is on main", p.id, dev.Commit)
		if l, seen := last[p.service]; !seen || pos < order[l.st.Environments[0].Commit] {
			last[p.service] = p
		}
	}
	for svc, p := range last {
		require.Equal(t, p.st.Environments[0].Image, pinned(t, cfg, "dev", svc), "%s's dev manifest holds its last promotion, %s", svc, p.id)
	}
}
