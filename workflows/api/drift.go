package api

import "go.temporal.io/sdk/temporal"

// DriftWorkflowName is the workflow type of a drift check.
const DriftWorkflowName = "DriftCheck"

// DriftIDPrefix starts the ID of an env's drift schedule and of the runs `starter drift`
// starts; the schedule's runs carry the schedule's ID with the time appended.
const DriftIDPrefix = "drift-"

// DriftID is the ID of an env's drift schedule and of a drift check started by hand.
func DriftID(env string) string { return DriftIDPrefix + env }

// KindDrift is the IdpKind of drift checks.
const KindDrift = "drift"

// AttrDrift is set on a drift check when it ends: true when the env drifted, false when not.
// A run that failed before it could tell leaves it unset.
var AttrDrift = temporal.NewSearchAttributeKeyBool("IdpDrift")

// BoolSearchAttributeNames lists the search attributes of type Bool idp needs registered
// (SearchAttributeNames are the Keyword ones).
var BoolSearchAttributeNames = []string{"IdpDrift"}

// SearchAttributeSpecs are every search attribute idp registers as NAME=TYPE, the form of the
// dev server's --search-attribute flag.
func SearchAttributeSpecs() []string {
	out := make([]string, 0, len(SearchAttributeNames)+len(BoolSearchAttributeNames))
	for _, n := range SearchAttributeNames {
		out = append(out, n+"=Keyword")
	}
	for _, n := range BoolSearchAttributeNames {
		out = append(out, n+"=Bool")
	}
	return out
}

// DriftInput starts a drift check of one env.
type DriftInput struct {
	Env string `json:"env"`
	// Requester is who asked (`starter drift`); empty for the schedule's runs.
	Requester string `json:"requester,omitempty"`
}

// DriftReport is what a drift check found: resource addresses and short descriptions, never
// values, so no secret reaches the run's history.
type DriftReport struct {
	Env string `json:"env"`
	// Commit is the platform commit the env was compared with.
	Commit  string `json:"commit"`
	Drifted bool   `json:"drifted"`
	// Terraform are the addresses `terraform plan -refresh-only` found changed outside
	// terraform.
	Terraform []string `json:"terraform"`
	// Changes are the addresses a normal plan would change (drift, or commits not applied yet).
	Changes []string `json:"changes"`
	// OIDC describes how the GitHub OIDC provider and role differ from what bootstrap writes.
	OIDC []string `json:"oidc"`
	// ArgoCD describes how the Argo CD install differs from what bootstrap applies.
	ArgoCD []string `json:"argocd"`
}

// Any reports whether any check found drift.
func (r DriftReport) Any() bool {
	return len(r.Terraform)+len(r.Changes)+len(r.OIDC)+len(r.ArgoCD) > 0
}
