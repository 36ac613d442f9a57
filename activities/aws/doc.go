// Package aws owns idp's calls into AWS accounts: the Terraform state backend (S3), the GitHub
// OIDC trust (IAM), cross-account ECR pull access, and resolving image tags to digests in the
// tooling account's ECR.
//
// Every activity input carries the run's snapshot of the accounts it works in, so nothing here
// reads the worker's idp.yaml: a retry on another worker, or after idp.yaml changed, talks to
// the same accounts. Clients are built per call, for the account the input names, behind
// narrow interfaces over the SDK (s3API, iamAPI, ecrAPI), so tests run every activity against
// hand-written fakes and the same code talks to AWS or to an emulator (only the account's
// endpoint differs).
//
// Errors a person must fix (access denied, a missing tag or repository, a bad snapshot) come
// back as non-retryable errors of the internal/fail types; everything else retries.
package aws
