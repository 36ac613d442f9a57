package workflows

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
)

// TestReplayRecordedHistories replays the committed histories, so a change that breaks
// determinism for running workflows fails here: bootstraps recorded from the local stack (an
// approval by update after a refused self-approval and an ignored signal; a rerun with no
// changes), and, recorded by TestRecordHistories, a promotion to prod approved after a refused
// self-approval (from before and after the soak watched the Application), one approved by a
// GitHub review after the requester's own review was refused, and locks under contention from
// before and after the liveness check. Every workflow type is registered for every file.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			for _, d := range Definitions() {
				r.RegisterWorkflowWithOptions(d.Func, workflowOptions(d.Name))
			}
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, f))
		})
	}
}
