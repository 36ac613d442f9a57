//go:build tools

// Package tools records the command this module builds, so `go mod tidy` keeps its
// dependencies. Build it with tools/tools.mk (`make kube-tools`).
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
