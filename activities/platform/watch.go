package platform

// The image watch's view of the platform: which new tag enters which env, and starting its
// promotion exactly once.

import (
	"context"
	"errors"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/imagewatch"
)

// WatchToolingInput names the service the watch looks at.
type WatchToolingInput struct {
	Service string `json:"service"`
}

// WatchToolingOutput is the tooling account the service's images live in.
type WatchToolingOutput struct {
	Tooling config.Tooling `json:"tooling"`
}

// WatchTooling returns the worker's tooling account, for listing the service's images.
func (a *Activities) WatchTooling(_ context.Context, in WatchToolingInput) (WatchToolingOutput, error) {
	if _, ok := a.Config.Tooling.Repositories[in.Service]; !ok {
		return WatchToolingOutput{}, fail.New(fail.Config, "unknown service %q: tooling.repositories in idp.yaml no longer lists it (its schedule outlived it: delete the schedule)", in.Service)
	}
	return WatchToolingOutput{Tooling: a.Config.Tooling}, nil
}

// PlanWatchInput is a service's images, as ListImages found them.
type PlanWatchInput struct {
	Service string             `json:"service"`
	Images  []imagewatch.Image `json:"images"`
}

// PlanWatchOutput is what the watch does per entry env.
type PlanWatchOutput struct {
	Decisions []imagewatch.Decision `json:"decisions"`
}

// PlanWatch reads what each entry env runs now (its manifest on the platform branch) and
// decides which tag, if any, to promote there (imagewatch.Decide). An env without the
// service's manifest runs nothing yet.
func (a *Activities) PlanWatch(ctx context.Context, in PlanWatchInput) (PlanWatchOutput, error) {
	running := map[string]string{}
	for _, env := range a.Config.Environments {
		if env.Promotion.EntryPattern == "" {
			continue
		}
		img, err := a.CurrentImage(ctx, ImageInput{Env: env.Name, Service: in.Service})
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.Type() == fail.Config {
			continue
		}
		if err != nil {
			return PlanWatchOutput{}, err
		}
		running[env.Name] = tagOf(img.Image)
	}
	return PlanWatchOutput{Decisions: imagewatch.Decide(a.Config, in.Service, in.Images, running)}, nil
}

// tagOf is the tag of registry/repository:tag@sha256:…, or "" when the image has none.
func tagOf(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndexByte(image, ':'); i >= 0 && !strings.Contains(image[i:], "/") {
		return image[i+1:]
	}
	return ""
}

// StartWorkflow starts the run s describes unless a run of its ID exists (imagewatch.Start):
// the watch's promotions, which the workflow that asks cannot start idempotently itself.
func (s *Signaller) StartWorkflow(ctx context.Context, in imagewatch.StartSpec) (imagewatch.Started, error) {
	return imagewatch.Start(ctx, s.Client, in)
}
