package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/git"
)

// gitWriteOptions are a Git write's: it heartbeats, so the write of a worker that died in
// the middle of a push is retried within seconds (the retry finds what the push left and
// does not push twice), not after the start-to-close timeout.
func gitWriteOptions(summary string) workflow.ActivityOptions {
	opts := activityOptions(summary, 5*time.Minute)
	opts.HeartbeatTimeout = git.WriteHeartbeatTimeout
	return opts
}
