package workflows

import "go.temporal.io/sdk/temporal"

// TaskQueue is the one task queue idp's workers poll.
const TaskQueue = "idp"

// Workflow type names.
const (
	BootstrapWorkflowName = "BootstrapEnvironment"
	PromoteWorkflowName   = "Promote"
	LockWorkflowName      = "Lock"
)

// Workflow ID prefixes: one bootstrap per env, one promotion per service and tag.
const (
	BootstrapIDPrefix = "bootstrap-"
	PromoteIDPrefix   = "promote-"
	LockIDPrefix      = "lock-"
)

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
var SearchAttributeNames = []string{"IdpKind", "IdpService", "IdpEnvironment", "IdpVersion", "IdpStage"}

// Stages a run moves through, as shown in status and IdpStage.
const (
	StagePreparing       = "preparing"
	StagePlanning        = "planning"
	StageWaitingApproval = "waiting-approval"
	StageApplying        = "applying"
	StageDeploying       = "deploying"
	StageVerifying       = "verifying"
	StageSoaking         = "soaking"
	StageRollingBack     = "rolling-back"
	StageDone            = "done"
	StageFailed          = "failed"
)

// Definition is a workflow function with the type name it is registered under.
type Definition struct {
	Name string
	Func any
}

// Definitions lists every idp workflow, for workers and replayers to register.
func Definitions() []Definition {
	return []Definition{
		{Name: BootstrapWorkflowName, Func: BootstrapEnvironment},
		{Name: PromoteWorkflowName, Func: Promote},
		{Name: LockWorkflowName, Func: Lock},
	}
}
