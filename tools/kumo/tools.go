//go:build tools

// Package tools records the command this module builds, so `go mod tidy` keeps its
// dependencies. The Dockerfile's kumo-builder stage builds it.
package tools

import (
	_ "github.com/sivchari/kumo/cmd/kumo"
)
