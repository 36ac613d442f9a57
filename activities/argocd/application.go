package argocd

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// application is the part of Argo CD's Application resource (argoproj.io/v1alpha1) idp
// reads, decoded from the API's JSON. idp declares it here rather than importing Argo CD's Go
// types: those bring Argo CD's whole dependency tree (kubectl, kustomize, the typed
// Kubernetes clients, 570 packages), which took about a third of the worker's binary and
// memory at rest for a handful of status fields. Field names are the resource's, as its CRD
// defines them.
type application struct {
	metav1.ObjectMeta `json:"metadata"`
	Status            appStatus `json:"status"`
}

type appStatus struct {
	Sync           syncStatus      `json:"sync"`
	Health         healthStatus    `json:"health"`
	Conditions     []appCondition  `json:"conditions,omitempty"`
	OperationState *operationState `json:"operationState,omitempty"`
	ReconciledAt   *metav1.Time    `json:"reconciledAt,omitempty"`
	Resources      []resourceState `json:"resources,omitempty"`
	Summary        struct {
		Images []string `json:"images,omitempty"`
	} `json:"summary"`
}

type syncStatus struct {
	Status    string   `json:"status"`
	Revision  string   `json:"revision,omitempty"`
	Revisions []string `json:"revisions,omitempty"`
}

type healthStatus struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

type appCondition struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// isError says whether Argo CD counts the condition as an error: its error condition types
// (ComparisonError, InvalidSpecError, SyncError, ...) all end in "Error".
func (c appCondition) isError() bool { return strings.HasSuffix(c.Type, "Error") }

type operationState struct {
	Phase   string `json:"phase"`
	Message string `json:"message,omitempty"`
}

type resourceState struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	// Status is the resource's sync status at the Application's revision (Synced, OutOfSync).
	Status string        `json:"status,omitempty"`
	Health *healthStatus `json:"health,omitempty"`
}

// Argo CD's names idp uses: the Synced sync status, the comparison error conditions, and the
// annotation that asks the application controller for a (normal) refresh.
const (
	syncedCode              = "Synced"
	conditionComparisonErr  = "ComparisonError"
	conditionInvalidSpecErr = "InvalidSpecError"
	annotationRefresh       = "argocd.argoproj.io/refresh"
	refreshNormal           = "normal"
)
