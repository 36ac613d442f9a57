package argocd

import (
	"context"
	"net/http"
	"time"

	"github.com/alexpermiakov/idp/internal/checkout"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// Activities reach each env's Argo CD. Build them with New; they hold no configuration of
// their own, only what the worker hands in and the factories that reach an env's cluster and
// secrets from the snapshot in each activity input.
type Activities struct {
	repo    checkouter
	digests DigestResolver
	http    *http.Client
	// kubeFor and secretsFor reach one env; tests replace them with fakes.
	kubeFor    func(ctx context.Context, env *config.Environment) (kube, error)
	secretsFor func(ctx context.Context, acct config.AWS) (secretReaders, error)
}

// Deps are the worker-level dependencies of the activities, built once by the worker.
type Deps struct {
	// Repo is the platform repository, read for the env's app-of-apps.
	Repo checkout.Repo
	// Digests resolves image tags to digests in the tooling registry (the Passed check).
	Digests DigestResolver
	// HTTPClient fetches install manifests from URLs; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// New returns the activities over the worker's dependencies. Clusters are reached through
// the env's kubeconfig or EKS, and repository tokens through Secrets Manager or SSM, with the
// AWS identity the activity input's snapshot names.
func New(d Deps) *Activities {
	hc := d.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Activities{repo: d.Repo, digests: d.Digests, http: hc, kubeFor: newKubeCache(clusterKube).get, secretsFor: awsSecretReaders}
}

// DigestResolver resolves a tag of a tooling repository to its image digest. An unknown tag
// is an application error of type fail.NotFound.
type DigestResolver interface {
	Digest(ctx context.Context, repo, tag string) (string, error)
}

// checkouter is what the activities need of the platform repository (checkout.Repo): a
// checkout for InstallArgoCD, and a later commit's lineage for WaitApp.
type checkouter interface {
	Checkout(ctx context.Context, commit string) (string, error)
	Lineage(ctx context.Context, ancestor, commit, path string) (checkout.Lineage, error)
}

// envOf returns the env an activity input's snapshot carries; an empty snapshot (a run
// started under an older idp) is the user's to fix by starting the run again.
func envOf(snap *config.Snapshot) (*config.Environment, error) {
	env, err := snap.Environment()
	if err != nil {
		return nil, fail.Wrap(fail.Config, err, "activity input")
	}
	return env, nil
}

// cluster returns the kube client of the env the snapshot carries, and that env.
func (a *Activities) cluster(ctx context.Context, snap *config.Snapshot) (kube, *config.Environment, error) {
	env, err := envOf(snap)
	if err != nil {
		return nil, nil, err
	}
	k, err := a.kubeFor(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	return k, env, nil
}

// backoff yields growing waits for polling, capped at max.
type backoff struct {
	next, max time.Duration
}

func (b *backoff) wait(ctx context.Context) error { return b.waitOr(ctx, nil) }

// waitOr is wait cut short by a signal on changed; the wait after such a signal is not longer.
func (b *backoff) waitOr(ctx context.Context, changed <-chan struct{}) error {
	t := time.NewTimer(b.next)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-changed:
		return nil
	case <-t.C:
	}
	if b.next *= 2; b.next > b.max {
		b.next = b.max
	}
	return nil
}
