package argocd

import (
	"context"
	"fmt"
	"strings"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"

	"github.com/alexpermiakov/idp/internal/fail"
)

// PassedInput asks whether a digest runs Healthy in an env.
type PassedInput struct {
	Env     string `json:"env"`
	App     string `json:"app"`
	Service string `json:"service"`
	Digest  string `json:"digest"`
}

// PassedOutput answers it, with the evidence or why not.
type PassedOutput struct {
	Passed bool   `json:"passed"`
	Reason string `json:"reason"`
}

// Passed checks that the env's Application is Healthy and runs the service's image whose tag
// resolves to the digest: CI tags one image sha-… and later v1.2.3, and a later env can insist
// that this very image passed an earlier one.
func (a *Activities) Passed(ctx context.Context, in PassedInput) (PassedOutput, error) {
	repo, ok := a.Config.Tooling.Repositories[in.Service]
	if !ok {
		return PassedOutput{}, fail.New(fail.Config, "unknown service %q", in.Service)
	}
	k, ns, err := a.kubeFor(ctx, in.Env)
	if err != nil {
		return PassedOutput{}, err
	}
	obj, err := k.Get(ctx, gvkApp, ns, in.App)
	if err != nil {
		return PassedOutput{}, err
	}
	if obj == nil {
		return PassedOutput{Reason: in.App + " does not exist in " + in.Env}, nil
	}
	var app v1alpha1.Application
	if err := decodeApp(obj.Object, &app); err != nil {
		return PassedOutput{}, err
	}
	st := Status(&app)
	if st.Sync != string(v1alpha1.SyncStatusCodeSynced) || st.Health != "Healthy" {
		return PassedOutput{Reason: "it is " + describe(st)}, nil
	}
	for _, img := range app.Status.Summary.Images {
		name, tag := splitImage(img)
		if tag == "" || !strings.HasSuffix(name, "/"+repo) {
			continue
		}
		digest, err := a.Digests.Digest(ctx, repo, tag)
		if fail.Is(err, fail.NotFound) {
			continue
		}
		if err != nil {
			return PassedOutput{}, err
		}
		if digest == in.Digest {
			return PassedOutput{Passed: true, Reason: fmt.Sprintf("%s runs %s, Healthy", in.App, img)}, nil
		}
		return PassedOutput{Reason: fmt.Sprintf("%s runs %s, which is %s", in.App, img, digest)}, nil
	}
	return PassedOutput{Reason: fmt.Sprintf("%s runs no image of %s", in.App, repo)}, nil
}

// splitImage splits registry/repository:tag; a colon before the last slash is a port.
func splitImage(img string) (name, tag string) {
	i := strings.LastIndex(img, ":")
	if i < strings.LastIndex(img, "/") || i < 0 {
		return img, ""
	}
	return img[:i], img[i+1:]
}
