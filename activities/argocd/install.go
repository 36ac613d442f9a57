package argocd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

var (
	gvkCRD        = schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}
	gvkSecret     = schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
	gvkDeployment = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	gvkStatefulS  = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}
	gvkApp        = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Application"}
)

// InstallInput asks to install Argo CD in one env, with the app-of-apps of the given commit.
type InstallInput struct {
	Snapshot config.Snapshot `json:"snapshot"`
	Commit   string          `json:"commit"`
}

// InstallOutput says what the install changed; a rerun on an installed env changes nothing.
// Created and Updated count each object once over every attempt of the activity (Kind/name);
// Changed is both, as runs recorded before them read it.
type InstallOutput struct {
	Version string   `json:"version"`
	Objects int      `json:"objects"`
	Changed []string `json:"changed,omitempty"`
	Created []string `json:"created,omitempty"`
	Updated []string `json:"updated,omitempty"`
	// Resumed is how many applies an interrupted attempt had done, which this one did not
	// repeat.
	Resumed int `json:"resumed,omitempty"`
	// SharedWith names the base env of a preview in its base's cluster: no app-of-apps of its
	// own was installed (sharedBase).
	SharedWith string `json:"sharedWith,omitempty"`
}

// InstallArgoCD server-side applies the official install manifest of the pinned version,
// then idp's settings, then the env's app-of-apps from argocd/bootstrap-<env>.yaml at the
// commit. CRDs go first and must be Established before anything that uses them.
func (a *Activities) InstallArgoCD(ctx context.Context, in InstallInput) (InstallOutput, error) {
	env, err := envOf(&in.Snapshot)
	if err != nil {
		return InstallOutput{}, err
	}
	objs, apps, err := a.readObjects(ctx, env, in.Commit)
	if err != nil {
		return InstallOutput{}, err
	}
	k, err := a.kubeFor(ctx, env)
	if err != nil {
		return InstallOutput{}, err
	}
	creds, err := a.repoCredentials(ctx, env, in.Snapshot.Repository.URL)
	if err != nil {
		return InstallOutput{}, err
	}
	if creds != nil {
		objs = append(objs, creds)
	}
	shared, err := sharedBase(ctx, k, env)
	if err != nil {
		return InstallOutput{}, classifyKube(err, env.Name)
	}
	if shared != "" {
		apps = nil // the base's app-of-apps already deploys what the preview's would
	}
	out, err := install(ctx, k, env, objs, apps)
	out.Version, out.SharedWith = env.ArgoCD.Version, shared
	return out, classifyKube(err, env.Name)
}

// readObjects returns the objects of the install manifest and of the env's app-of-apps at the
// commit, before anything touches the cluster.
func (a *Activities) readObjects(ctx context.Context, env *config.Environment, commit string) (manifest, apps []*unstructured.Unstructured, err error) {
	b, err := a.readManifest(ctx, env.ArgoCD.InstallManifest)
	if err != nil {
		return nil, nil, err
	}
	if manifest, err = decode(b); err != nil {
		return nil, nil, fail.Wrap(fail.Config, err, "the Argo CD install manifest %s", env.ArgoCD.InstallManifest)
	}
	src, err := a.repo.Checkout(ctx, commit)
	if err != nil {
		return nil, nil, err
	}
	// A preview installs its base env's app-of-apps, made its own (preview.go).
	base := env.BaseName()
	b, err = os.ReadFile(filepath.Join(src, "argocd", "bootstrap-"+base+".yaml"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fail.Wrap(fail.Config, err, "the platform repository at %s has no argocd/bootstrap-%s.yaml", short(commit), base)
	} else if err != nil {
		return nil, nil, fmt.Errorf("reading argocd/bootstrap-%s.yaml: %w", base, err)
	}
	if apps, err = decode(b); err != nil {
		return nil, nil, fail.Wrap(fail.Config, err, "argocd/bootstrap-%s.yaml", base)
	}
	if err := previewAppOfApps(env, apps); err != nil {
		return nil, nil, fail.Wrap(fail.Config, err, "argocd/bootstrap-%s.yaml at %s", base, short(commit))
	}
	return manifest, apps, nil
}

func (a *Activities) readManifest(ctx context.Context, src string) ([]byte, error) {
	if !strings.HasPrefix(src, "https://") && !strings.HasPrefix(src, "http://") {
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, fail.Wrap(fail.Config, err, "reading the Argo CD install manifest (argocd.installManifest)")
		}
		return b, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, fail.Wrap(fail.Config, err, "argocd.installManifest")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", src, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, fail.New(fail.Config, "%s: 404: is argocd.version a released Argo CD version?", src)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: %s", src, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// decode splits a multi-document YAML stream into objects, skipping empty documents.
func decode(b []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("an object without kind or name: %v", m)
		}
		out = append(out, u)
	}
}

// applyOrder puts namespaces first, then CRDs, then cluster-wide objects, then the rest, each
// group in the manifest's own order.
func applyOrder(o *unstructured.Unstructured) int {
	switch {
	case o.GetKind() == "Namespace":
		return 0
	case o.GetKind() == "CustomResourceDefinition":
		return 1
	case o.GetNamespace() == "" && strings.HasPrefix(o.GetKind(), "Cluster"):
		return 2
	default:
		return 3
	}
}

// namespaced reports whether an install-manifest object lives in the Argo CD namespace.
func namespaced(o *unstructured.Unstructured) bool {
	switch o.GetKind() {
	case "Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding":
		return false
	}
	return true
}

// waitEstablished waits until the API server serves the CRDs, so the objects after them apply.
func waitEstablished(ctx context.Context, k kube, names []string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	b := backoff{next: 100 * time.Millisecond, max: 2 * time.Second}
	for {
		var waiting []string
		for _, n := range names {
			crd, err := k.Get(ctx, gvkCRD, "", n)
			if err != nil {
				return err
			}
			if !conditionTrue(crd, "Established") {
				waiting = append(waiting, n)
			}
		}
		if len(waiting) == 0 {
			k.Refresh()
			return nil
		}
		if err := b.wait(ctx); err != nil {
			return fmt.Errorf("CRDs not established: %s: %w", strings.Join(waiting, ", "), err)
		}
	}
}

func conditionTrue(o *unstructured.Unstructured, typ string) bool {
	if o == nil {
		return false
	}
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ && m["status"] == "True" {
			return true
		}
	}
	return false
}

// appOfAppsQuiet is argocd-cm's rule that keeps an env's app-of-apps from reconciling every time
// one of its Applications changes only its status, its operation or idp's refresh request. The
// app-of-apps tracks the Applications it created; without the rule each promotion's few status
// updates each cost a reconciliation of the whole app-of-apps (all the env's Applications), one
// at a time: with a hundred services promoted at once, that queue was the wave's bottleneck.
// It still reconciles when an Application's spec changes, and when its health does (Argo CD
// gives Applications no health unless a check is configured).
const appOfAppsQuiet = `jsonPointers:
- /status
- /operation
- /metadata/annotations/argocd.argoproj.io~1refresh
`

// settings are idp's Argo CD settings: a reconciliation timeout, the app-of-apps rule above, the
// API server without TLS (reached through a port-forward), and the default project argocd-server
// would create.
func settings(env *config.Environment) []*unstructured.Unstructured {
	ns := env.ArgoCD.Namespace
	cm := func(name string, data map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name, "namespace": ns}, "data": data}}
	}
	return []*unstructured.Unstructured{
		cm("argocd-cm", map[string]any{
			"timeout.reconciliation": "60s",
			"resource.customizations.ignoreResourceUpdates.argoproj.io_Application": appOfAppsQuiet,
		}),
		cm("argocd-cmd-params-cm", map[string]any{"server.insecure": "true"}),
		{Object: map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
			"metadata": map[string]any{"name": "default", "namespace": ns},
			"spec": map[string]any{
				"sourceRepos":              []any{"*"},
				"destinations":             []any{map[string]any{"server": "*", "namespace": "*"}},
				"clusterResourceWhitelist": []any{map[string]any{"group": "*", "kind": "*"}},
			}}},
	}
}

// serverSecret returns argocd-secret's server.secretkey to set when it is missing (as
// argocd-server does at its first start), or nil when it is there: a rerun keeps the key.
func serverSecret(ctx context.Context, k kube, ns string) (*unstructured.Unstructured, error) {
	cur, err := k.Get(ctx, gvkSecret, ns, "argocd-secret")
	if err != nil {
		return nil, err
	}
	if cur != nil {
		if v, _, _ := unstructured.NestedString(cur.Object, "data", "server.secretkey"); v != "" {
			return nil, nil
		}
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "argocd-secret", "namespace": ns},
		"data":     map[string]any{"server.secretkey": base64.StdEncoding.EncodeToString([]byte(base64.RawURLEncoding.EncodeToString(key)))}}}, nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
