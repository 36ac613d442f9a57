// Package setup is the worker's wiring: it builds every activity with the clients and
// credentials it needs and registers it, with every workflow, on a worker. cmd/worker and the
// end-to-end tests (which run a worker in process) share it.
package setup

import (
	"os"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/argocd"
	"github.com/alexpermiakov/idp/activities/aws"
	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/notify"
	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/activities/terraform"
	"github.com/alexpermiakov/idp/internal/checkout"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/workflows"
)

// Registry is the part of a Temporal worker that registrations need.
type Registry interface {
	RegisterWorkflowWithOptions(w interface{}, options workflow.RegisterOptions)
	RegisterActivity(a interface{})
}

// Register builds every activity with its clients and registers it and every workflow; c is
// the worker's own client, which the lock activity uses to signal-with-start lock workflows.
func Register(r Registry, cfg *config.Config, c client.Client) {
	for _, d := range workflows.Definitions() {
		r.RegisterWorkflowWithOptions(d.Func, workflow.RegisterOptions{Name: d.Name})
	}
	repo := checkout.Repo{URL: cfg.Repository.URL, Auth: checkout.TokenAuth(cfg.Repository.URL, gitToken()),
		CacheDir: cfg.Terraform.Dir()}
	provider := gitProvider(cfg.Repository)
	r.RegisterActivity(&platform.Signaller{Client: c})
	r.RegisterActivity(&platform.Activities{Config: cfg, Repo: repo, Pulls: pullHeadsOf(provider)})
	r.RegisterActivity(&git.Activities{Provider: provider, Branch: cfg.Repository.Branch,
		ReviewPoll: cfg.Repository.ReviewPollInterval.Std()})
	r.RegisterActivity(&notify.Activities{Config: cfg})
	r.RegisterActivity(aws.New())
	r.RegisterActivity(terraform.New(cfg.Terraform, repo, terraform.S3PlanStore{}))
	r.RegisterActivity(argocd.New(argocd.Deps{Repo: repo, Digests: aws.NewImageDigests(cfg.Tooling.AWS)}))
}

// gitToken is the worker's token for an https platform repository: $IDP_GIT_TOKEN, else
// $GITHUB_TOKEN. It stays in the worker; no workflow ever sees it.
func gitToken() string {
	for _, name := range []string{"IDP_GIT_TOKEN", "GITHUB_TOKEN"} {
		if tok := os.Getenv(name); tok != "" {
			return tok
		}
	}
	return ""
}
