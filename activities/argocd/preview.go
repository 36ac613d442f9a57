package argocd

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/alexpermiakov/idp/internal/config"
)

// previewAppOfApps makes the base env's app-of-apps a preview's own: named as the preview's
// (<base>-pr-<N>-apps) and tracking the pull request's head instead of the platform branch, so
// the preview deploys what the pull request holds. Other objects of the file, and every
// object of a configured env's file, are left as they are.
func previewAppOfApps(env *config.Environment, apps []*unstructured.Unstructured) error {
	p := env.Preview
	if p == nil {
		return nil
	}
	for _, app := range apps {
		if app.GroupVersionKind() != gvkApp || app.GetName() != p.BaseAppOfApps {
			continue
		}
		app.SetName(env.ArgoCD.AppOfApps)
		labels := app.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels["idp/preview-of"] = p.Base
		labels["idp/pull-request"] = fmt.Sprint(p.PR)
		app.SetLabels(labels)
		if src, ok, _ := unstructured.NestedMap(app.Object, "spec", "source"); ok {
			src["targetRevision"] = p.Branch
			if err := unstructured.SetNestedMap(app.Object, src, "spec", "source"); err != nil {
				return err
			}
		}
		if srcs, ok, _ := unstructured.NestedSlice(app.Object, "spec", "sources"); ok {
			for _, s := range srcs {
				if m, ok := s.(map[string]any); ok {
					m["targetRevision"] = p.Branch
				}
			}
			if err := unstructured.SetNestedSlice(app.Object, srcs, "spec", "sources"); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("no Application %q (the app-of-apps of %s) to derive the preview's from", p.BaseAppOfApps, p.Base)
}

// sharedBase names the base env when env is a preview whose cluster is its base's, which the
// base's app-of-apps being there shows (the sandbox runs previews so; on AWS each has a
// cluster k8s-pr-<N> of its own); "" otherwise. The preview's own app-of-apps would then claim
// the base's Applications (same names, same namespace), and the two would undo each other:
// such a preview installs none and is verified by its base's.
func sharedBase(ctx context.Context, k kube, env *config.Environment) (string, error) {
	p := env.Preview
	if p == nil {
		return "", nil
	}
	crd, err := k.Get(ctx, gvkCRD, "", "applications.argoproj.io")
	if err != nil || crd == nil {
		return "", err
	}
	base, err := k.Get(ctx, gvkApp, env.ArgoCD.Namespace, p.BaseAppOfApps)
	if err != nil || base == nil {
		return "", err
	}
	return p.Base, nil
}
