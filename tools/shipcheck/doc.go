// Package shipcheck checks how idp is shipped, with each ecosystem's own parser: the
// Dockerfile (BuildKit's parser and the rules a reviewer applies), docker-compose.yaml
// (compose-go, as `docker compose` loads it) and the GitHub Actions workflows (actionlint, and
// every starter command line in them run through the real CLI's Check). It is a module of its
// own so these dependencies stay out of the product's go.mod; `make test` runs it.
package shipcheck

// repoRoot is the repository, seen from this package's directory (go test runs there).
const repoRoot = "../.."
