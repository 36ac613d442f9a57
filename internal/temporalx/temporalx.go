// Package temporalx holds how idp's commands reach Temporal: TEMPORAL_ADDRESS and
// TEMPORAL_NAMESPACE, defaulting to a local dev server.
package temporalx

import (
	"os"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
)

// Address is $TEMPORAL_ADDRESS or localhost:7233.
func Address() string {
	if a := os.Getenv("TEMPORAL_ADDRESS"); a != "" {
		return a
	}
	return "localhost:7233"
}

// Namespace is $TEMPORAL_NAMESPACE or default.
func Namespace() string {
	if n := os.Getenv("TEMPORAL_NAMESPACE"); n != "" {
		return n
	}
	return "default"
}

// Options are client options for the configured server; logger may be nil.
func Options(logger log.Logger) client.Options {
	return client.Options{HostPort: Address(), Namespace: Namespace(), Logger: logger}
}
