package api

import "strconv"

// Placeholder for the DestroyEnvironment contract, written by the preview work so a preview
// can start the destroy by name before DestroyEnvironment itself lands; the destroy work owns
// this file and replaces it.

// DestroyWorkflow is DestroyEnvironment's workflow type name.
const DestroyWorkflow = "DestroyEnvironment"

// KindDestroy is the run kind (IdpKind) of a destroy.
const KindDestroy = "destroy"

// DestroyInput starts DestroyEnvironment.
type DestroyInput struct {
	Env string `json:"env"`
	// PR, when above 0, destroys pull request PR's preview of Env.
	PR         int    `json:"pr,omitempty"`
	PurgeState bool   `json:"purgeState,omitempty"`
	Requester  string `json:"requester"`
}

// DestroyID is the workflow ID of an env's destroy: destroy-<env>, or destroy-<env>-pr-<N>
// for a preview.
func DestroyID(env string, pr int) string {
	if pr > 0 {
		return "destroy-" + env + "-pr-" + strconv.Itoa(pr)
	}
	return "destroy-" + env
}
