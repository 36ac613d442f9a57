// Package argocd owns idp's access to each environment's Argo CD through the Kubernetes API:
// installing Argo CD with idp's settings, the platform repository's credentials and the env's
// app-of-apps; waiting until Argo CD and every Application are Synced and Healthy; refreshing
// and waiting for one Application at a commit; and checking that an image digest runs Healthy
// in an env.
//
// Everything about a run comes from the activity input's config.Snapshot. The worker hands in
// what outlives runs (the platform repository, the digest resolver, an HTTP client) through
// New; clusters and the repository token are reached per env, from the snapshot, through
// narrow interfaces that tests replace with fakes.
package argocd
