package policy

import "regexp"

// Names of things in the platform repository and in Argo CD, built in this one place so that
// the CLI, the workflows and the activities always agree on them.

// AppName is the Argo CD Application of a service in an env.
func AppName(service, env string) string { return service + "-" + env }

// ManifestPath is where an env's Application for a service lives in the platform repository.
func ManifestPath(env, service string) string {
	return "argocd/applications/" + env + "/" + service + ".yaml"
}

// LockKey names the (service, env) lock a promotion holds while it changes that env.
func LockKey(service, env string) string { return service + "/" + env }

// ProposalBranch is the branch a promotion that needs approval proposes its change on.
func ProposalBranch(service, env, tag string) string { return "idp/" + service + "-" + env + "-" + tag }

// PinnedImage is how a manifest pins an image: by tag for people, by digest for the cluster
// (registry/repository:tag@sha256:…), so a tag moved after approval changes nothing that runs.
func PinnedImage(image, digest string) string {
	if digest == "" {
		return image
	}
	return image + "@" + digest
}

// tagRE is the OCI distribution spec's tag grammar.
var tagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ValidTag reports whether tag is a valid OCI image tag. Tags end up in workflow IDs
// (promote-<service>-<tag>), Git branch names and manifests, so anything else (a '/', a ':',
// a space, a leading '-' or '.') is refused before it can reach any of them.
func ValidTag(tag string) bool { return tagRE.MatchString(tag) }
