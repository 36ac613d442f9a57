// Package terraform owns idp's terraform runs: plan of infra/entry at a pinned commit into a
// plan file kept in the env's state bucket, and apply of exactly that file.
//
// It owns the terraform working directories under the worker's work dir, the terraform CLI
// configuration idp writes (providers come from a filesystem mirror when one is configured or
// found, never downloaded then, through a shared plugin cache), the plan files' keys and
// digests, and the reading of terraform's failures into errors a workflow can branch on
// (errors.go). It does not decide when to plan or apply: the bootstrap workflow does.
package terraform
