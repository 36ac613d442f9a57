package workflows

import "github.com/alexpermiakov/idp/workflows/api"

// Definition is a workflow function with the type name it is registered under.
type Definition struct {
	Name string
	Func any
}

// Definitions lists every idp workflow, for workers and replayers to register.
func Definitions() []Definition {
	return []Definition{
		{Name: api.BootstrapWorkflowName, Func: BootstrapEnvironment},
		{Name: api.DestroyWorkflowName, Func: DestroyEnvironment},
		{Name: api.PromoteWorkflowName, Func: Promote},
		{Name: api.LockWorkflowName, Func: Lock},
		{Name: api.TrainWorkflowName, Func: Train},
		{Name: api.ControlsWorkflowName, Func: Controls},
		{Name: api.ImageWatchWorkflowName, Func: ImageWatch},
		{Name: api.DriftWorkflowName, Func: DriftCheck},
	}
}
