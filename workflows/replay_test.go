package workflows

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"

	"github.com/alexpermiakov/idp/workflows/api"
)

// TestReplayRecordedHistories replays histories recorded from the local stack (an approval
// by update after a refused self-approval and an ignored signal; a rerun with no changes), so
// a change that breaks determinism for running workflows fails here.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(BootstrapEnvironment, workflowOptions(api.BootstrapWorkflowName))
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, f))
		})
	}
}
