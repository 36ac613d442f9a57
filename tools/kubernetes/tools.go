//go:build tools

// Package tools records the commands this module builds, so `go mod tidy` keeps their
// dependencies. Build them with tools/tools.mk (`make kube-tools`).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
