// Package aws owns idp's calls into AWS accounts: the Terraform state backend, the GitHub
// OIDC trust, cross-account ECR pull access, and resolving image tags to digests in the
// tooling account's ECR. The same code talks to AWS or to an emulator; only the account's
// endpoint in idp.yaml differs.
package aws

import (
	"errors"

	"github.com/alexpermiakov/idp/internal/config"
)

// Activities hold the worker's configuration; clients are built per call for the account
// the activity works in.
type Activities struct {
	Config *config.Config
}

func asErr[T error](err error, target *T) bool { return errors.As(err, target) }
