//go:build tools

// Package tools pins workflowcheck, built into ../../bin by `make lint`. It lives in its own
// module so the newer golang.org/x/tools it needs on this Go version stays out of idp's go.mod.
package tools

import _ "go.temporal.io/sdk/contrib/tools/workflowcheck"
