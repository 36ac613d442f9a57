//go:build faults

package faults

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/cmd/sandbox/stack"
	"github.com/alexpermiakov/idp/internal/cli"
	"github.com/alexpermiakov/idp/internal/manifest"
	"github.com/alexpermiakov/idp/internal/policy"
	"github.com/alexpermiakov/idp/workflows"
	"github.com/alexpermiakov/idp/workflows/api"
)

// loadServices is how many generated services the load test's stack carries.
const loadServices = 100

// TestLoad runs load against one bin/worker process on a stack with 100 generated services,
// dev bootstrapped once for both subtests.
func TestLoad(t *testing.T) {
	r := up(t, stack.Options{Services: loadServices})
	r.StartWorker()
	for _, kv := range r.Env { // cli.Main below runs in this process
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	start := time.Now()
	code, out := r.Starter("bootstrap", "--env", "dev", "--wait", "--no-sign")
	require.Equal(t, 0, code, out)
	t.Logf("dev bootstrapped with %d services in %s", loadServices+len(stack.Services), time.Since(start).Round(time.Second))

	t.Run("HundredServices", func(t *testing.T) { hundredServices(t, r) })
	t.Run("OneServiceRacing", func(t *testing.T) { oneServiceRacing(t, r) })
}

// hundredServices — load: 100 promotions of 100 different services into dev at once, on one
// worker. After: every one ends done with dev Healthy at its image (none failed, none rolled
// back, none superseded by another service's commit); main's history holds exactly 100 image
// changes in dev, one per service, and each service's dev manifest pins its image. Recorded:
// the wall time from the first start to the last end.
func hundredServices(t *testing.T, r *rig) {
	ctx := context.Background()
	services := stack.GeneratedServices(loadServices)
	tags := make([]string, len(services))
	for i, svc := range services {
		tags[i] = fmt.Sprintf("sha-%07x", 0xa000000+i)
		_, err := stack.PushImage(ctx, r.Cfg.Tooling.AWS.Endpoint, stack.PushOptions{Service: svc, Tag: tags[i]})
		require.NoError(t, err)
	}
	before := devChanges(t, r)
	start := time.Now()
	promoteAll(t, services, tags)
	started := time.Since(start)
	awaitAll(t, r, services, tags, 10*time.Minute)
	took := time.Since(start)
	t.Logf("100 promotions started in %s, all ended in %s", started.Round(100*time.Millisecond), took.Round(time.Second))

	for i, svc := range services {
		id := api.PromoteID(svc, tags[i])
		st := r.Status(id)
		require.Equal(t, api.StageDone, st.Stage, "%s: %s", id, st.Error)
		require.Empty(t, st.Error, id)
		require.Len(t, st.Environments, 1, id)
		dev := st.Environments[0]
		require.Equal(t, api.EnvDone, dev.State, "%s: dev ended %s, not done: another's commit got in its way", id, dev.State)
		require.Equal(t, dev.Image, pinnedIn(t, r, "dev", svc), "%s: dev's manifest pins its image", id)
	}
	changes := devChanges(t, r)[len(before):]
	perService := map[string]int{}
	for _, c := range changes {
		perService[c]++
	}
	require.Len(t, changes, loadServices, "main holds exactly one image change per promotion: %v", perService)
	for _, svc := range services {
		require.Equal(t, 1, perService[svc], "%s's image changed once on main", svc)
	}
	Recovered(t, "load: 100 services into dev", took)
}

// oneServiceRacing — load: 10 promotions of the same service into dev with increasing tags,
// all running at once. After: the env lock served them one at a time in the order they asked
// (main's image changes of the service are in tag order, each lands after the previous run
// released the lock), dev ends at the newest tag, each run ended done or superseded, none is
// left waiting. Recorded: the wall time from the first start to the last end.
func oneServiceRacing(t *testing.T, r *rig) {
	ctx := context.Background()
	const svc, n = "time-service", 10
	services, tags := make([]string, n), make([]string, n)
	for i := range n {
		services[i], tags[i] = svc, fmt.Sprintf("sha-%07x", 0xb000001+i)
		_, err := stack.PushImage(ctx, r.Cfg.Tooling.AWS.Endpoint, stack.PushOptions{Service: svc, Tag: tags[i]})
		require.NoError(t, err)
	}
	before := len(imageChanges(t, r, "dev", svc))
	start := time.Now()
	// Each asks for the lock before the next starts, so the request order is the tag order.
	for i := range n {
		promoteAll(t, services[i:i+1], tags[i:i+1])
		id := api.PromoteID(svc, tags[i])
		require.Eventually(t, func() bool { return lockKnows(ctx, r, api.LockID(svc, "dev"), id) }, time.Minute, 100*time.Millisecond,
			"%s asks for the dev lock", id)
	}
	awaitAll(t, r, services, tags, 8*time.Minute)
	took := time.Since(start)
	states := map[api.EnvState]int{}
	for _, tag := range tags {
		id := api.PromoteID(svc, tag)
		st := r.Status(id)
		require.Equal(t, api.StageDone, st.Stage, "%s: %s", id, st.Error)
		states[st.Environments[0].State]++
		require.Contains(t, []api.EnvState{api.EnvDone, api.EnvSuperseded}, st.Environments[0].State, id)
	}
	t.Logf("10 racing promotions of %s ended in %s: %v", svc, took.Round(time.Second), states)
	got := imageChanges(t, r, "dev", svc)[before:]
	require.NotEmpty(t, got)
	var order []string
	for _, img := range got {
		order = append(order, tagOf(img))
	}
	for i := 1; i < len(order); i++ {
		require.Less(t, order[i-1], order[i], "dev took the tags in order: %v", order)
	}
	require.Equal(t, tags[n-1], order[len(order)-1], "dev ends at the newest: %v", order)
	require.Equal(t, tags[n-1], tagOf(pinnedIn(t, r, "dev", svc)))
	Recovered(t, "load: 10 racing tags of one service", took)
}

// promoteAll starts the promotions into dev at once, through the CLI in this process.
func promoteAll(t *testing.T, services, tags []string) {
	t.Helper()
	var wg sync.WaitGroup
	codes, outs := make([]int, len(services)), make([]string, len(services))
	for i := range services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b bytes.Buffer
			codes[i] = cli.Main(context.Background(), []string{"promote", "--service", services[i], "--tag", tags[i], "--as", "alice", "--no-sign"}, &b, &b)
			outs[i] = b.String()
		}()
	}
	wg.Wait()
	for i := range services {
		require.Equal(t, 0, codes[i], "%s %s: %s", services[i], tags[i], outs[i])
	}
}

// awaitAll waits until every promotion has closed, failing the test with those still open.
func awaitAll(t *testing.T, r *rig, services, tags []string, timeout time.Duration) {
	t.Helper()
	c := r.Client()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var open []string
	for i := range services {
		id := api.PromoteID(services[i], tags[i])
		if err := c.GetWorkflow(ctx, id, "").Get(ctx, nil); err != nil && ctx.Err() != nil {
			open = append(open, id)
		}
	}
	require.Empty(t, open, "still running after %s (stuck)", timeout)
}

// lockKnows reports whether the lock holds or queues owner.
func lockKnows(ctx context.Context, r *rig, lockID, owner string) bool {
	c := r.Client()
	defer c.Close()
	v, err := c.QueryWorkflow(ctx, lockID, "", api.StatusQuery)
	if err != nil {
		return false
	}
	var st workflows.LockStatus
	if v.Get(&st) != nil {
		return false
	}
	if st.Holder == owner {
		return true
	}
	for _, q := range st.Queue {
		if q.Owner == owner {
			return true
		}
	}
	return false
}

// bareRepo is the path of the stack's platform repository.
func bareRepo(r *rig) string { return strings.TrimPrefix(r.Cfg.Repository.URL, "file://") }

// pinnedIn is the image service's manifest in env pins at main's tip.
func pinnedIn(t *testing.T, r *rig, env, service string) string {
	t.Helper()
	out, err := exec.Command("git", "--git-dir", bareRepo(r), "show", "main:"+policy.ManifestPath(env, service)).Output()
	require.NoError(t, err)
	img, err := manifest.Image(out)
	require.NoError(t, err)
	return img
}

// devChanges lists, oldest first, the service of every commit on main that changed a dev
// manifest, once per manifest it changed.
func devChanges(t *testing.T, r *rig) []string {
	t.Helper()
	out, err := exec.Command("git", "--git-dir", bareRepo(r), "log", "--reverse", "--format=", "--name-only",
		"main", "--", "argocd/applications/dev/").Output()
	require.NoError(t, err)
	var services []string
	for _, f := range strings.Fields(string(out)) {
		services = append(services, strings.TrimSuffix(strings.TrimPrefix(f, "argocd/applications/dev/"), ".yaml"))
	}
	// The seed commit added every manifest: it is no image change.
	return services[len(r.Cfg.Tooling.Repositories):]
}

// imageChanges lists, oldest first, the image service's env manifest pinned after each commit
// on main that changed it (the seed's first version left out).
func imageChanges(t *testing.T, r *rig, env, service string) []string {
	t.Helper()
	path := policy.ManifestPath(env, service)
	out, err := exec.Command("git", "--git-dir", bareRepo(r), "log", "--reverse", "--format=%H", "main", "--", path).Output()
	require.NoError(t, err)
	commits := strings.Fields(string(out))
	var images []string
	for _, c := range commits[1:] {
		b, err := exec.Command("git", "--git-dir", bareRepo(r), "show", c+":"+path).Output()
		require.NoError(t, err)
		img, err := manifest.Image(b)
		require.NoError(t, err)
		images = append(images, img)
	}
	return images
}

// tagOf is the tag of an image pinned as repo:tag@digest.
func tagOf(image string) string {
	image, _, _ = strings.Cut(image, "@")
	return image[strings.LastIndex(image, ":")+1:]
}
