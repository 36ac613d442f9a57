// Package manifest edits one value, app.image, in the manifests idp promotes: an Argo CD
// Application with Helm values, or a Helm values file. It is pure: bytes in, bytes out.
//
// The image is edited without re-marshalling the manifest: reviewers of a promotion commit or
// PR must see a one-line diff, and comments, key order and quoting written by people must
// survive. yaml.v3 finds the image scalar and its position; the new token is spliced into the
// original bytes; the result is parsed again and compared with the original so that an edit
// that would change anything but app.image is refused, not written.
package manifest

// The stages of an edit, one file each: locate.go finds the one place holding app.image,
// splice.go maps it to a byte range of the manifest and picks the replacement token (quote.go
// reads and writes quoted scalars), verify.go parses the result and compares it with the
// original. manifest.go holds the exported API.
