package workflows

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// recordedIDs are the workflow IDs of recorded runs that read their own ID: a signed request
// covers the run's ID, so it verifies only when replayed under the ID it was recorded with (a
// history file does not carry it; the replayer's default is a made-up one).
var recordedIDs = map[string]string{
	"promote-signed-request-recheck.json": "promote-time-service-v1.2.6",
}

// TestReplayRecordedHistories replays the committed histories, so a change that breaks
// determinism for running workflows fails here: bootstraps recorded from the local stack (an
// approval by update after a refused self-approval and an ignored signal; a rerun with no
// changes), and, recorded by TestRecordHistories, a promotion to prod approved after a refused
// self-approval (from before and after the soak watched the Application), one approved by a
// GitHub review after the requester's own review was refused, one requested with a signature
// and re-resolved before its merge, the first again under today's activity options (Git writes
// and health waits that heartbeat), the first again in a run with local reads
// (localReadsVersion: quick reads as local activities, no GetVersion after it, unchanged
// search attributes not written again) and in one whose doors are reads (doorQuery), locks under contention from before and after the
// liveness check, and a Controls workflow answering five runs at its door one by one and, since
// answerTogether, in one turn. Every workflow type is registered for every file.
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
			b, err := os.Open(f)
			require.NoError(t, err)
			defer b.Close()
			h, err := client.HistoryFromJSON(b, client.HistoryJSONOptions{})
			require.NoError(t, err)
			id := recordedIDs[filepath.Base(f)]
			if id == "" {
				id = "replay-" + filepath.Base(f)
			}
			require.NoError(t, r.ReplayWorkflowHistoryWithOptions(nil, h, worker.ReplayWorkflowHistoryOptions{
				OriginalExecution: workflow.Execution{ID: id, RunID: "recorded"}}))
		})
	}
}
