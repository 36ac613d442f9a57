// Package git owns idp's writes to the platform repository: the Provider contract (direct
// commits, and proposals merged after approval), its error sentinels, the Options a worker
// hands providers, and the promotion activities (WriteImage, MergeProposal) built on it.
//
// Providers live in subpackages, one per kind of remote: gitremote (plain Git pushes with
// go-git) and github (the GitHub REST API). They import this package; this package never
// imports them, and the worker (cmd/worker/setup) picks one and injects it. Nothing here reads
// the environment: credentials come in through Options.
package git
