// Package argocd owns idp's access to each environment's Argo CD through the Kubernetes API:
// installing it, and waiting until its Applications are Synced and Healthy.
package argocd

import (
	_ "github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	_ "github.com/argoproj/argo-cd/v2/pkg/client/clientset/versioned"
	_ "k8s.io/client-go/kubernetes"
)
