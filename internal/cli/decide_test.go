package cli

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/alexpermiakov/idp/workflows/api"
)

// endedRun is a Temporal client whose run has ended; an update would be a bug.
type endedRun struct {
	client.Client
	st value
}

func (f *endedRun) Close() {}

func (f *endedRun) QueryWorkflow(context.Context, string, string, string, ...interface{}) (converter.EncodedValue, error) {
	return f.st, nil
}

// TestApprovingAnEndedRunSaysWhyItEnded: an approval that comes after expiry, or after the
// run was superseded, is refused with the run's own reason, on one line.
func TestApprovingAnEndedRunSaysWhyItEnded(t *testing.T) {
	t.Setenv("IDP_KEYS_DIR", "")
	for _, reason := range []string{
		"approval of image digest 0123456789ab in prod expired at 2025-03-01T12:00:00Z with 0 of 1 approvals",
		"superseded by promote-time-service-v1.2.4",
	} {
		f := &endedRun{st: value{api.Status{WorkflowID: runID, Stage: api.StageFailed, Error: reason}}}
		var out, errOut bytes.Buffer
		root := newRoot(&globals{out: &out, errOut: &errOut, dial: func(client.Options) (client.Client, error) { return f, nil },
			clock: func() time.Time { return signedAt }})
		root.SetArgs([]string{"approve", runID, "--as", "bob", "--config", "/nonexistent"})
		err := root.ExecuteContext(context.Background())
		require.Equal(t, ExitBadInput, Code(err))
		require.EqualError(t, err, runID+" is not waiting for an approval (stage failed: "+reason+")")
	}
}
