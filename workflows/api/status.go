package api

import "time"

// Status is the document the status query returns and `starter status -o json` prints.
type Status struct {
	WorkflowID string `json:"workflowId"`
	Kind       string `json:"kind"`
	Stage      Stage  `json:"stage"`
	// Requester started the run; four-eyes refuses their approval.
	Requester string `json:"requester,omitempty"`
	// RequesterVerified says the request was signed by a key of Requester (fingerprint
	// RequesterKey), so four-eyes also refuses approvals signed with that key; false for an
	// unsigned request (CI) and for runs started before requests were checked.
	RequesterVerified bool   `json:"requesterVerified"`
	RequesterKey      string `json:"requesterKey,omitempty"`
	Service           string `json:"service,omitempty"`
	Version           string `json:"version,omitempty"`
	// Digest is the image digest a promotion and its approvals are bound to.
	Digest string `json:"digest,omitempty"`
	// SupersededBy names the newer promotion this one stepped aside for.
	SupersededBy string `json:"supersededBy,omitempty"`
	// Commit is the platform repository commit the run works on.
	Commit string `json:"commit,omitempty"`
	// Frozen says, while the run waits at a frozen env's door, who froze it, until when and
	// why: "staging is frozen by alice until 2026-11-30T18:00:00Z: release party".
	Frozen       string      `json:"frozen,omitempty"`
	Environments []EnvStatus `json:"environments"`
	// Train lists a release train's services and the digest its approvals bind to (trains only).
	Train *TrainStatus `json:"train,omitempty"`
	// Drift is what a drift check found (drift checks only).
	Drift *DriftReport `json:"drift,omitempty"`
	// Plan is the latest terraform plan (bootstrap only).
	Plan            *PlanSummary     `json:"plan,omitempty"`
	PendingApproval *PendingApproval `json:"pendingApproval"`
	Approvals       []Decision       `json:"approvals"`
	// IgnoredSignals are approval signals the gate refused, with why.
	IgnoredSignals []IgnoredSignal `json:"ignoredSignals,omitempty"`
	// Steps is a short log of what the run did and found (drift restored, resources changed).
	Steps []string `json:"steps,omitempty"`
	Error string   `json:"error,omitempty"`
	// Notes are what the run's activities report while they wait, from their heartbeats:
	// "Argo CD unreachable since …". starter status adds them; the workflow does not know them.
	Notes []string `json:"notes,omitempty"`
	// Preview is set on a pull request's preview bootstrap.
	Preview *PreviewStatus `json:"preview,omitempty"`
}

// RequestedBy says who asked for the run and how that is known: "alice (signed, SHA256:…)"
// or "ci (unsigned)".
func (s Status) RequestedBy() string {
	if s.RequesterVerified {
		return s.Requester + " (signed, " + s.RequesterKey + ")"
	}
	return s.Requester + " (unsigned)"
}

// EnvStatus is one environment's state within a run.
type EnvStatus struct {
	Name   string   `json:"name"`
	State  EnvState `json:"state"`
	Image  string   `json:"image,omitempty"`
	Commit string   `json:"commit,omitempty"`
	// Previous is the image the env ran before this promotion (what a rollback restores).
	Previous string `json:"previous,omitempty"`
	// SoakUntil is when the soak in this env ends, while it lasts (state soaking): the
	// Application is watched until then and must stay Healthy at the image.
	SoakUntil *time.Time `json:"soakUntil,omitempty"`
}

// PlanSummary is what a terraform plan would do.
type PlanSummary struct {
	SHA256   string   `json:"sha256"`
	Add      int      `json:"add"`
	Change   int      `json:"change"`
	Destroy  int      `json:"destroy"`
	Import   int      `json:"import,omitempty"`
	Adds     []string `json:"adds,omitempty"`
	Changes  []string `json:"changes,omitempty"`
	Destroys []string `json:"destroys,omitempty"`
	Imports  []string `json:"imports,omitempty"`
}

// PendingApproval is what the gate waits for.
type PendingApproval struct {
	Env       string    `json:"env"`
	Approvers []string  `json:"approvers"`
	ExpiresAt time.Time `json:"expiresAt"`
	// Subject is the exact thing approved: a plan sha256 or an image digest.
	Subject string `json:"subject"`
	// What says what the subject is ("terraform plan", "image digest").
	What         string `json:"what"`
	MinApprovals int    `json:"minApprovals"`
	FourEyes     bool   `json:"fourEyes"`
	Received     int    `json:"received"`
	// RequireSignatures refuses decisions not signed by a key of the named person.
	RequireSignatures bool `json:"requireSignatures,omitempty"`
	// Reviews is the pull request whose approving reviews, by GitHub logins mapped to people
	// in idp.yaml, count as approvals too (GitHub only).
	Reviews string `json:"reviews,omitempty"`
}

// Decision is one recorded approval or rejection.
type Decision struct {
	Who      string    `json:"who"`
	When     time.Time `json:"when"`
	Decision string    `json:"decision"`
	Env      string    `json:"env"`
	Subject  string    `json:"subject"`
	Comment  string    `json:"comment,omitempty"`
	// Verified says the decision was signed by a key of Who (fingerprint Key); unsigned
	// decisions, where the gate allows them (CI), are recorded with Verified false. An
	// approving GitHub review is verified by GitHub: Key is then "github:<login>".
	Verified bool   `json:"verified"`
	Key      string `json:"key,omitempty"`
	// Source is where the decision came from: empty for idp's approve/reject (update or
	// signal), SourceGitHubReview for a pull request review.
	Source string `json:"source,omitempty"`
}

// SourceGitHubReview marks a decision taken from an approving pull request review, and the
// ignored reviews (IgnoredSignal.Signal).
const SourceGitHubReview = "github-review"

// IgnoredSignal is an approval signal the gate refused.
type IgnoredSignal struct {
	Who    string    `json:"who"`
	When   time.Time `json:"when"`
	Signal string    `json:"signal"`
	Reason string    `json:"reason"`
}

// StatusQueryInput is the (empty) input of the status query.
type StatusQueryInput struct{}
