package workflows

import (
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/ecr"
	"github.com/alexpermiakov/idp/activities/gitops"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/activities/terraform"
	"github.com/alexpermiakov/idp/internal/config"
)

// Registry is the part of a Temporal worker that registrations need.
type Registry interface {
	RegisterWorkflowWithOptions(w interface{}, options workflow.RegisterOptions)
	RegisterActivity(a interface{})
}

// Register registers every idp workflow and activity, configured by cfg; c is the worker's own
// client, which the lock activity uses to signal-with-start lock workflows.
func Register(r Registry, cfg *config.Config, c client.Client) {
	r.RegisterWorkflowWithOptions(BootstrapEnvironment, workflowOptions(BootstrapWorkflowName))
	r.RegisterWorkflowWithOptions(Promote, workflowOptions(PromoteWorkflowName))
	r.RegisterWorkflowWithOptions(Lock, workflowOptions(LockWorkflowName))
	r.RegisterActivity(&platform.Signaller{Client: c})
	r.RegisterActivity(&gitops.Activities{Config: cfg})
	r.RegisterActivity(&ecr.Activities{Config: cfg})
	r.RegisterActivity(&platform.Activities{Config: cfg})
	r.RegisterActivity(&aws.Activities{Config: cfg})
	r.RegisterActivity(&terraform.Activities{Config: cfg})
	r.RegisterActivity(&argocd.Activities{Config: cfg})
}

func workflowOptions(name string) workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: name}
}
