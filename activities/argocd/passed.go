package argocd

import (
	"context"
	"fmt"
	"strings"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// PassedInput asks whether a digest runs Healthy in an env.
type PassedInput struct {
	Snapshot config.Snapshot `json:"snapshot"`
	App      string          `json:"app"`
	Service  string          `json:"service"`
	Digest   string          `json:"digest"`
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
	env, err := envOf(&in.Snapshot)
	if err != nil {
		return PassedOutput{}, err
	}
	repo, ok := in.Snapshot.Tooling.Repositories[in.Service]
	if !ok {
		return PassedOutput{}, fail.New(fail.Config, "unknown service %q", in.Service)
	}
	k, err := a.kubeFor(ctx, env)
	if err != nil {
		return PassedOutput{}, err
	}
	obj, err := k.Get(ctx, gvkApp, env.ArgoCD.Namespace, in.App)
	if err != nil {
		return PassedOutput{}, classifyKube(err, env.Name)
	}
	if obj == nil {
		return PassedOutput{Reason: in.App + " does not exist in " + env.Name}, nil
	}
	var app application
	if err := decodeApp(obj.Object, &app); err != nil {
		return PassedOutput{}, fmt.Errorf("decoding Application %s: %w", in.App, err)
	}
	return a.runs(ctx, &app, repo, in.Digest)
}

// runs answers Passed for an Application that exists: it must be Synced and Healthy and run
// an image of the repository whose tag resolves to the digest. Tags the registry no longer
// has say nothing either way.
func (a *Activities) runs(ctx context.Context, app *application, repo, digest string) (PassedOutput, error) {
	st := summarize(app)
	if st.Sync != syncedCode || st.Health != "Healthy" {
		return PassedOutput{Reason: "it is " + describe(st)}, nil
	}
	for _, img := range app.Status.Summary.Images {
		ref, pinned, _ := strings.Cut(img, "@")
		name, tag := splitImage(ref)
		if !strings.HasSuffix(name, "/"+repo) || (tag == "" && pinned == "") {
			continue
		}
		// An image pinned by digest (as idp writes them) says what runs by itself; a bare tag
		// is resolved in the registry, where it may have moved since.
		got := pinned
		if got == "" {
			var err error
			got, err = a.digests.Digest(ctx, repo, tag)
			if fail.Is(err, fail.NotFound) {
				continue
			}
			if err != nil {
				return PassedOutput{}, err
			}
		}
		if got == digest {
			return PassedOutput{Passed: true, Reason: fmt.Sprintf("%s runs %s, Healthy", app.Name, img)}, nil
		}
		return PassedOutput{Reason: fmt.Sprintf("%s runs %s, which is %s", app.Name, img, got)}, nil
	}
	return PassedOutput{Reason: fmt.Sprintf("%s runs no image of %s", app.Name, repo)}, nil
}

// splitImage splits registry/repository:tag; a colon before the last slash is a port.
func splitImage(img string) (name, tag string) {
	i := strings.LastIndex(img, ":")
	if i < strings.LastIndex(img, "/") || i < 0 {
		return img, ""
	}
	return img[:i], img[i+1:]
}
