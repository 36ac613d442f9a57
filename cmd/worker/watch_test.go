package main

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/cmd/worker/events"
	"github.com/alexpermiakov/idp/workflows/api"
)

// TestWorkerServesEventsAndSchedules runs the worker as main does with --events-addr: it
// refuses to start without the secret, then serves the endpoint (an unsigned event gets 401,
// a signed one starts the promotion) and has created each service's polling schedule.
func TestWorkerServesEventsAndSchedules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Temporal dev server; not part of -short")
	}
	hostPort := idpDevServer(t)
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	t.Setenv("TEMPORAL_ADDRESS", hostPort)
	t.Setenv("TEMPORAL_NAMESPACE", "default")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))

	t.Setenv("IDP_EVENTS_SECRET", "")
	err := run(options{config: "../../idp.yaml", eventsAddr: addr, stderr: &syncBuffer{}}, make(chan interface{}))
	require.ErrorContains(t, err, "the events secret in $IDP_EVENTS_SECRET (imageWatch.events.secretEnv) must be at least 16 characters")

	const secret = "0123456789abcdef0123456789abcdef"
	t.Setenv("IDP_EVENTS_SECRET", secret)
	logs := &syncBuffer{}
	stop := make(chan interface{})
	done := make(chan error, 1)
	go func() { done <- run(options{config: "../../idp.yaml", eventsAddr: addr, stderr: logs}, stop) }()
	t.Cleanup(func() {
		close(stop)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the worker did not stop")
		}
	})
	body := `{"version":"0","id":"1","detail-type":"ECR Image Action","source":"aws.ecr","account":"864992049050","region":"us-west-2",
"detail":{"action-type":"PUSH","result":"SUCCESS","repository-name":"idp/version","image-tag":"sha-abcdef1","image-digest":"sha256:` + strings.Repeat("0", 64) + `"}}`
	post := func(key string) int {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+events.Path, strings.NewReader(body))
		require.NoError(t, err)
		if key != "" {
			req.Header.Set("X-Idp-Events-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Eventually(t, func() bool { return post("") == http.StatusUnauthorized }, 30*time.Second, 200*time.Millisecond, "logs:\n%s", logs)
	require.Equal(t, http.StatusAccepted, post(secret))
	require.Equal(t, http.StatusConflict, post(secret))

	c, err := client.Dial(client.Options{HostPort: hostPort})
	require.NoError(t, err)
	defer c.Close()
	d, err := c.DescribeWorkflow(context.Background(), api.PromoteID("version-service", "sha-abcdef1"), "")
	require.NoError(t, err)
	require.Equal(t, api.PromoteWorkflowName, d.WorkflowType.Name)
	for _, svc := range []string{"time-service", "version-service"} {
		var sd *client.ScheduleDescription
		require.Eventually(t, func() bool {
			sd, err = c.ScheduleClient().GetHandle(context.Background(), api.ImageWatchID(svc)).Describe(context.Background())
			return err == nil
		}, 30*time.Second, 200*time.Millisecond, "no schedule for %s: %v\n%s", svc, err, logs)
		require.Equal(t, time.Minute, sd.Schedule.Spec.Intervals[0].Every)
	}
	require.Contains(t, logs.String(), `"msg":"image watch schedule created image-watch-time-service (every 1m0s, paused false)"`)
	require.NotContains(t, logs.String(), secret)
}
