package argocd

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/alexpermiakov/idp/internal/config"
)

// eksClientFor is how long a cached client of an EKS cluster serves: it carries an IAM token
// valid for 15 minutes.
const eksClientFor = 10 * time.Minute

// kubeCache keeps one Kubernetes client per cluster for the worker's life, so that the
// activities of many promotions at once share its connections and its discovery: a new client
// reads the API server's whole discovery on first use, which with a hundred health waits at
// once cost the worker hundreds of MB and the API server a burst of requests. A client built
// from a kubeconfig serves until the file changes; one of an EKS cluster, eksClientFor.
type kubeCache struct {
	build func(ctx context.Context, env *config.Environment) (kube, error)
	now   func() time.Time

	mu      sync.Mutex
	entries map[string]kubeEntry
}

type kubeEntry struct {
	k       kube
	stamp   string
	expires time.Time
}

func newKubeCache(build func(ctx context.Context, env *config.Environment) (kube, error)) *kubeCache {
	return &kubeCache{build: build, now: time.Now, entries: map[string]kubeEntry{}}
}

// get returns env's cluster client, built once per cluster while it stays valid.
func (c *kubeCache) get(ctx context.Context, env *config.Environment) (kube, error) {
	key, stamp, ttl := c.key(env)
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && e.stamp == stamp && c.now().Before(e.expires) {
		return e.k, nil
	}
	k, err := c.build(ctx, env)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.entries[key] = kubeEntry{k: k, stamp: stamp, expires: c.now().Add(ttl)}
	c.mu.Unlock()
	return k, nil
}

// key names env's cluster; stamp changes when its kubeconfig does; ttl is how long a client
// serves.
func (c *kubeCache) key(env *config.Environment) (key, stamp string, ttl time.Duration) {
	if path := env.ArgoCD.Kubeconfig; path != "" {
		if fi, err := os.Stat(path); err == nil {
			stamp = fmt.Sprintf("%d/%d", fi.ModTime().UnixNano(), fi.Size())
		}
		return "kubeconfig " + path, stamp, 24 * time.Hour
	}
	a := env.AWS
	return fmt.Sprintf("eks %s %s %s %s %s", a.AccountID, a.Region, a.AssumeRole, a.Endpoint, env.ClusterName), "", eksClientFor
}
