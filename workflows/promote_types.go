package workflows

// PromoteInput starts Promote.
type PromoteInput struct {
	Service string `json:"service"`
	Tag     string `json:"tag"`
	// To is the last env; empty means as far as policy allows without a person.
	To        string `json:"to,omitempty"`
	Requester string `json:"requester"`
	// Supersede asks an older promotion of the service still waiting for approval to step aside.
	Supersede bool `json:"supersede,omitempty"`
}

// Failure types of Promote.
const (
	ErrSuperseded = "Superseded"
	ErrFrozen     = "Frozen"
	ErrNotPassed  = "NotPassed"
	ErrRolledBack = "RolledBack"
)
