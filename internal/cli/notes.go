package cli

import (
	"context"
	"encoding/json"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/alexpermiakov/idp/internal/temporalx"
)

// activityNotes reads what the run's pending activities last reported in their heartbeats
// under "note" (an activity waiting on a system that does not answer says so there: "Argo CD
// unreachable since …"). Runs that have ended, or that cannot be described, have none.
func activityNotes(ctx context.Context, c client.Client, id string) []string {
	desc, err := c.DescribeWorkflow(ctx, id, "")
	if err != nil || desc.RawResponse == nil {
		return nil
	}
	dc := converter.GetDefaultDataConverter()
	if opts, err := temporalx.Options(nil); err == nil && opts.DataConverter != nil {
		dc = opts.DataConverter // decrypts with the same keys the worker encrypts with
	}
	var notes []string
	for _, a := range desc.RawResponse.GetPendingActivities() {
		ps := a.GetHeartbeatDetails().GetPayloads()
		if len(ps) == 0 {
			continue
		}
		var raw json.RawMessage
		if dc.FromPayload(ps[0], &raw) != nil {
			continue
		}
		var hb struct {
			Note string `json:"note"`
		}
		if json.Unmarshal(raw, &hb) == nil && hb.Note != "" {
			notes = append(notes, hb.Note)
		}
	}
	return notes
}
