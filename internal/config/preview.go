package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Preview is what makes an environment a pull request's preview: a copy of a configured env
// (its account, region, policies) with its own name, state key, cluster, app-of-apps and
// namespace prefix, so that two previews, and a preview and its base, never share anything
// terraform or Argo CD owns.
type Preview struct {
	// Base is the configured env the preview derives from. Files named after an env in the
	// platform repository (infra/entry/env/<base>.tfvars, argocd/bootstrap-<base>.yaml) are
	// the base's.
	Base string `json:"base"`
	PR   int    `json:"pr"`
	// Branch is the PR's head, which the preview's app-of-apps tracks.
	Branch string `json:"branch"`
	// BaseAppOfApps is the base's app-of-apps, renamed to the preview's in its bootstrap file.
	BaseAppOfApps string `json:"baseAppOfApps"`
	// NamespacePrefix ("pr-<N>-") is the prefix of every namespace the preview owns.
	NamespacePrefix string `json:"namespacePrefix"`
}

// PreviewName is the name of a pull request's preview of a base env: <base>-pr-<N>. idp.yaml
// refuses env names that start with another env's name and '-', so a preview name never
// collides with a configured env, and previews of two bases never collide with each other.
func PreviewName(base string, pr int) string { return base + "-pr-" + strconv.Itoa(pr) }

// PreviewClusterName is the cluster of a preview: k8s-pr-<N>, as the platform idp replaces
// named them. Each base env is its own AWS account, so previews of the same PR from two bases
// live in different accounts.
func PreviewClusterName(pr int) string { return "k8s-pr-" + strconv.Itoa(pr) }

// maxPreviewName is infra/entry's limit on var.environment (^[a-z][a-z0-9-]{0,30}$).
const maxPreviewName = 31

// PreviewSnapshot takes the snapshot of pull request pr's preview of the base env: the base's
// snapshot with the preview's own name, state key (previews/<name>/<base key> in the base's
// bucket), cluster, app-of-apps (<name>-apps, tracking branch) and namespace prefix.
// Approval and every other policy are the base's.
func (c *Config) PreviewSnapshot(base string, pr int, branch string) (Snapshot, error) {
	snap, err := c.Snapshot(base)
	if err != nil {
		return Snapshot{}, err
	}
	if pr <= 0 {
		return Snapshot{}, fmt.Errorf("a preview needs a pull request number above 0, got %d", pr)
	}
	if strings.TrimSpace(branch) == "" {
		return Snapshot{}, errors.New("a preview needs the pull request's head branch")
	}
	name := PreviewName(base, pr)
	if len(name) > maxPreviewName {
		return Snapshot{}, fmt.Errorf("preview name %q is longer than %d characters (infra/entry's limit on the environment name): use a shorter base env name", name, maxPreviewName)
	}
	e := snap.Env
	e.Preview = &Preview{Base: base, PR: pr, Branch: branch, BaseAppOfApps: e.ArgoCD.AppOfApps,
		NamespacePrefix: "pr-" + strconv.Itoa(pr) + "-"}
	e.Name = name
	e.StateKey = "previews/" + name + "/" + e.StateKey
	e.ClusterName = PreviewClusterName(pr)
	e.ArgoCD.AppOfApps = name + "-apps"
	// Copies, so the snapshot shares no slice or map with the worker's idp.yaml.
	e.GitHubRolePolicies = append([]string(nil), e.GitHubRolePolicies...)
	e.Notify = append([]NotifyTarget(nil), e.Notify...)
	if e.TerraformVars != nil {
		vars := make(map[string]any, len(e.TerraformVars))
		for k, v := range e.TerraformVars {
			vars[k] = v
		}
		e.TerraformVars = vars
	}
	snap.Env = e
	return snap, nil
}

// BaseName is the configured env whose files in the platform repository this env uses: its
// own name, or a preview's base.
func (e *Environment) BaseName() string {
	if e.Preview != nil {
		return e.Preview.Base
	}
	return e.Name
}
