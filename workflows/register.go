package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/activities/terraform"
	"github.com/alexpermiakov/idp/internal/config"
)

// Registry is the part of a Temporal worker that registrations need.
type Registry interface {
	RegisterWorkflowWithOptions(w interface{}, options workflow.RegisterOptions)
	RegisterActivity(a interface{})
}

// Register registers every idp workflow and activity, configured by cfg.
func Register(r Registry, cfg *config.Config) {
	r.RegisterWorkflowWithOptions(BootstrapEnvironment, workflowOptions(BootstrapWorkflowName))
	r.RegisterActivity(&platform.Activities{Config: cfg})
	r.RegisterActivity(&aws.Activities{Config: cfg})
	r.RegisterActivity(&terraform.Activities{Config: cfg})
	r.RegisterActivity(&argocd.Activities{Config: cfg})
}

func workflowOptions(name string) workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: name}
}
