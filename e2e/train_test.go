package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/cmd/sandbox/stack"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/workflows/api"
)

// trains runs two release trains through a bootstrapped dev: one with a broken member, which
// rolls back both services to what they ran before, and one with two good tags, which lands
// both. It runs in TestHandsOff, whose dev is bootstrapped and whose image watch is quiet
// (pushes here deliver no event and the poll schedules are paused).
func trains(t *testing.T, cfg *config.Config, s *stack.Stack) {
	services := []string{"time-service", "version-service"} // the train's order: by service
	apps := []string{"time-service-dev", "version-service-dev"}
	before := []string{pinned(t, cfg, "dev", services[0]), pinned(t, cfg, "dev", services[1])}
	start := time.Now()
	defer func() { t.Logf("release trains took %s", time.Since(start).Round(time.Second)) }()

	t.Run("a train with a broken member rolls back every service in dev", func(t *testing.T) {
		sandboxCLI(t, s, "image", "push", "time-service", "sha-7a1b2c3")
		sandboxCLI(t, s, "image", "push", "version-service", "sha-8b2c3d4", "--broken")
		id := api.TrainID("e2e-broken")
		code, out := starter(t, "promote", "--train", "e2e-broken", "--service", "time-service=sha-7a1b2c3",
			"--service", "version-service=sha-8b2c3d4", "--wait", "--as", "alice")
		require.Equal(t, 1, code, out)
		require.Contains(t, out, "train e2e-broken: version-service sha-8b2c3d4 did not become healthy in dev")
		require.Contains(t, out, "rolled back: time-service to "+before[0]+", version-service to "+before[1])

		st := status(t, id)
		require.Equal(t, api.StageFailed, st.Stage, st.Error)
		require.Equal(t, api.KindTrain, st.Kind)
		require.Len(t, st.Environments, 1)
		require.Equal(t, []string{"dev", string(api.EnvRolledBack)}, []string{st.Environments[0].Name, string(st.Environments[0].State)})
		require.NotNil(t, st.Train)
		require.Len(t, st.Train.Members, 2)
		for i, m := range st.Train.Members {
			require.Equal(t, services[i], m.Service)
			require.Len(t, m.Environments, 1, m.Service)
			dev := m.Environments[0]
			require.Equal(t, api.EnvRolledBack, dev.State, "%s was written, then rolled back with the train", m.Service)
			require.Equal(t, before[i], dev.Image, m.Service)
			require.Equal(t, before[i], pinned(t, cfg, "dev", m.Service), "%s runs what it ran before the train", m.Service)
			requireRuns(t, cfg, apps[i], before[i])
		}

		code, out = starter(t, "status", id)
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "train:        e2e-broken, approvals bind to "+st.Train.Subject)
		for i, m := range st.Train.Members {
			require.Contains(t, out, "  "+m.Service+" "+m.Tag+" "+m.Digest+"\n")
			require.Contains(t, out, fmt.Sprintf("    %-10s %s %s ", "dev", api.EnvRolledBack, before[i]))
		}
		code, out = starter(t, "list", "--kind", "train")
		require.Equal(t, 0, code, out)
		require.Contains(t, out, id)
	})

	t.Run("a train of two good tags lands both in dev", func(t *testing.T) {
		sandboxCLI(t, s, "image", "push", "version-service", "sha-9c3d4e5")
		id := api.TrainID("e2e-good")
		code, out := starter(t, "promote", "--train", "e2e-good", "--service", "version-service=sha-9c3d4e5",
			"--service", "time-service=sha-7a1b2c3", "--wait", "--as", "alice")
		require.Equal(t, 2, code, "the rollback pinned both services in dev: %s", out)
		require.Contains(t, out, "by idp (rollback)")
		require.Contains(t, out, "or pass --unpin")
		code, out = starter(t, "promote", "--train", "e2e-good", "--service", "version-service=sha-9c3d4e5",
			"--service", "time-service=sha-7a1b2c3", "--wait", "--as", "alice", "--unpin")
		require.Equal(t, 0, code, out)
		for _, svc := range services {
			require.Contains(t, out, svc+" unpinned in dev by alice")
		}

		st := status(t, id)
		require.Equal(t, api.StageDone, st.Stage, st.Error)
		require.Equal(t, api.EnvDone, st.Environments[0].State)
		tags := []string{"sha-7a1b2c3", "sha-9c3d4e5"}
		for i, m := range st.Train.Members {
			require.Equal(t, []string{services[i], tags[i]}, []string{m.Service, m.Tag})
			dev := m.Environments[0]
			require.Equal(t, api.EnvDone, dev.State, m.Service)
			require.Contains(t, dev.Image, ":"+tags[i]+"@sha256:", "pinned by tag and digest")
			require.True(t, strings.HasSuffix(dev.Image, "@"+m.Digest), dev.Image)
			require.Equal(t, dev.Image, pinned(t, cfg, "dev", m.Service))
			requireRuns(t, cfg, apps[i], dev.Image)
		}
	})
}

// requireRuns checks that dev's Application app is Synced and Healthy with image. Its
// revision may be a later commit than the member's own: both members' commits land on one
// branch, and Argo CD syncs its head.
func requireRuns(t *testing.T, cfg *config.Config, app, image string) {
	t.Helper()
	_, sync, health := application(t, cfg, "dev", app)
	require.Equal(t, []string{"Synced", "Healthy"}, []string{sync, health}, app)
	require.Contains(t, appImages(t, cfg, "dev", app), image, app)
}
