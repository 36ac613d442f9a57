package controls

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// deadlineClient answers a query with an env that has no Controls workflow, noting the
// deadline the query was given.
type deadlineClient struct {
	client.Client
	left time.Duration
}

func (d *deadlineClient) QueryWorkflow(ctx context.Context, _, _, _ string, _ ...any) (converter.EncodedValue, error) {
	if dl, ok := ctx.Deadline(); ok {
		d.left = time.Until(dl)
	}
	return nil, serviceerror.NewNotFound("no such workflow")
}

func TestGetWaitsForABusyWorker(t *testing.T) {
	c := &deadlineClient{}
	st, err := Get(context.Background(), c, "dev")
	require.NoError(t, err)
	require.Equal(t, "dev", st.Env)
	require.Greater(t, c.left, 15*time.Second, "a query without a deadline waits 20 s, not the SDK's 10 s")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = Get(ctx, c, "dev")
	require.NoError(t, err)
	require.LessOrEqual(t, c.left, 5*time.Second, "the caller's deadline stands")
}
