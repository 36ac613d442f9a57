package api

import (
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/internal/config"
)

// A preview is pull request N's copy of a base env, named <base>-pr-<N> (config.PreviewName).
// Its bootstrap run, bootstrap-<base>-pr-<N>, stays open once the preview is up, holding a
// durable timer: at the TTL, or on the destroy signal, it starts DestroyEnvironment for the
// preview and ends. The extend signal resets the timer.

// DefaultPreviewTTL is how long a preview lives when its request names no TTL.
const DefaultPreviewTTL = 72 * time.Hour

// Signals of a preview's bootstrap run.
const (
	// ExtendSignal (ExtendInput) makes the preview expire TTL after the signal is handled.
	ExtendSignal = "extend"
	// DestroySignal (DestroyRequest) ends the preview now.
	DestroySignal = "destroy"
)

// Search attributes of a preview's bootstrap run (Keyword, like the others): IdpPreview is
// the preview's env name, set at the start; IdpExpiresAt is when it expires, RFC 3339 in UTC
// (so it sorts and compares as text), set once it is up and on every extend.
var (
	AttrPreview   = temporal.NewSearchAttributeKeyKeyword("IdpPreview")
	AttrExpiresAt = temporal.NewSearchAttributeKeyKeyword("IdpExpiresAt")
)

// PreviewID is the workflow ID of pull request pr's preview of base: bootstrap-<base>-pr-<N>.
func PreviewID(base string, pr int) string { return BootstrapID(config.PreviewName(base, pr)) }

// EnvName is the env the run bootstraps: Env, or for a preview its own name.
func (in BootstrapInput) EnvName() string {
	if in.PR > 0 {
		return config.PreviewName(in.Env, in.PR)
	}
	return in.Env
}

// ExtendInput is the extend signal's payload.
type ExtendInput struct {
	TTL time.Duration `json:"ttl"`
	Who string        `json:"who"`
}

// DestroyRequest is the destroy signal's payload. Input, when set, is the signed request
// `starter destroy --pr` made: the preview's run starts DestroyEnvironment with it, so the
// destroy checks that person's signature; without it the destroy runs as the preview's
// requester, who asked for it.
type DestroyRequest struct {
	Who   string        `json:"who"`
	Input *DestroyInput `json:"input,omitempty"`
}

// PreviewStatus is a preview's part of its bootstrap run's status.
type PreviewStatus struct {
	Env    string `json:"env"`
	Base   string `json:"base"`
	PR     int    `json:"pr"`
	Branch string `json:"branch,omitempty"`
	// ExpiresAt is set once the preview is up.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// Destroy is the DestroyEnvironment run started at expiry or on request.
	Destroy string `json:"destroy,omitempty"`
}
