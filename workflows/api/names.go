// Package api is what people and programs outside a workflow see of idp's workflows: the
// names (task queue, workflow types, IDs, updates, signals, queries, search attributes), the
// inputs that start runs, the approval payloads and the status document. It imports no
// activity and no SDK client, so the CLI depends on it alone.
package api

import (
	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/internal/controls"
)

// TaskQueue is the one task queue idp's workers poll.
const TaskQueue = "idp"

// Workflow type names.
const (
	BootstrapWorkflowName = "BootstrapEnvironment"
	PromoteWorkflowName   = "Promote"
	LockWorkflowName      = "Lock"
	// ControlsWorkflowName holds an env's freezes and pins (internal/controls has its
	// updates, query and door protocol, which activities use too).
	ControlsWorkflowName = controls.WorkflowName
)

// Workflow ID prefixes: one bootstrap per env, one promotion per service and tag.
const (
	BootstrapIDPrefix = "bootstrap-"
	PromoteIDPrefix   = "promote-"
	LockIDPrefix      = "lock-"
)

// BootstrapID is the workflow ID of an env's bootstrap: one at a time per env.
func BootstrapID(env string) string { return BootstrapIDPrefix + env }

// PromoteID is the workflow ID of a promotion: one per service and tag.
func PromoteID(service, tag string) string { return PromoteIDPrefix + service + "-" + tag }

// ControlsID is the workflow ID of an env's Controls workflow: its freezes and pins.
func ControlsID(env string) string { return controls.WorkflowID(env) }

// LockID is the workflow ID of the lock that serializes promotions of a service into an env.
func LockID(service, env string) string { return LockIDPrefix + service + "-" + env }

// Update, signal and query names of the approval gate and the status document.
const (
	ApproveUpdate = "approve"
	RejectUpdate  = "reject"
	ApproveSignal = "approve"
	RejectSignal  = "reject"
	StatusQuery   = "status"

	// Lock protocol between promotions and the (service, env) lock workflows.
	LockAcquireSignal = "lock-acquire"
	LockReleaseSignal = "lock-release"
	LockGrantedSignal = "lock-granted"
	SupersedeSignal   = "supersede"
)

// Run kinds, as shown in status and in the IdpKind search attribute.
const (
	KindBootstrap = "bootstrap"
	KindPromote   = "promote"
)

// Search attributes idp registers and sets (all Keyword).
var (
	AttrKind        = temporal.NewSearchAttributeKeyKeyword("IdpKind")
	AttrService     = temporal.NewSearchAttributeKeyKeyword("IdpService")
	AttrEnvironment = temporal.NewSearchAttributeKeyKeyword("IdpEnvironment")
	AttrVersion     = temporal.NewSearchAttributeKeyKeyword("IdpVersion")
	AttrStage       = temporal.NewSearchAttributeKeyKeyword("IdpStage")
)

// SearchAttributeNames lists every search attribute idp needs registered, all of type Keyword.
var SearchAttributeNames = []string{"IdpKind", "IdpService", "IdpEnvironment", "IdpVersion", "IdpStage",
	"IdpPreview", "IdpExpiresAt"}

// Stage is where a run is, as shown in status and IdpStage.
type Stage string

// Stages a run moves through.
const (
	StagePreparing       Stage = "preparing"
	StagePlanning        Stage = "planning"
	StageWaitingApproval Stage = "waiting-approval"
	StageApplying        Stage = "applying"
	StageDeploying       Stage = "deploying"
	StageVerifying       Stage = "verifying"
	StageSoaking         Stage = "soaking"
	StageRollingBack     Stage = "rolling-back"
	StageDone            Stage = "done"
	StageFailed          Stage = "failed"
)

// EnvState is one environment's state within a run.
type EnvState string

// Environment states.
const (
	EnvPending         EnvState = "pending"
	EnvBootstrapping   EnvState = "bootstrapping"
	EnvWaitingLock     EnvState = "waiting-lock"
	EnvFrozen          EnvState = "frozen"
	EnvPinned          EnvState = "pinned"
	EnvWaitingApproval EnvState = "waiting-approval"
	EnvDeploying       EnvState = "deploying"
	EnvVerifying       EnvState = "verifying"
	EnvSoaking         EnvState = "soaking"
	EnvRollingBack     EnvState = "rolling-back"
	EnvRolledBack      EnvState = "rolled-back"
	EnvSuperseded      EnvState = "superseded"
	EnvDone            EnvState = "done"
	EnvFailed          EnvState = "failed"
)
