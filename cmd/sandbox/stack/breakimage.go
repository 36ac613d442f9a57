package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/alexpermiakov/idp/internal/config"
)

// restartedAtAnnotation is what `kubectl rollout restart` sets on a pod template: a new
// rollout of the same spec. Argo CD's diff ignores it (it is not in Git), as it does for its
// own restart action.
const restartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// BreakImage plays an image that goes bad at run time, after it was deployed and turned
// Healthy: in every env, from now on its pods never become Ready (a kwok stage, as for
// `image push --broken`), and every Deployment running it rolls out new pods, as when its
// nodes are replaced. Those miss their progress deadline, and Argo CD reports Degraded. It
// returns the Deployments it restarted, as "env/namespace/name".
func BreakImage(ctx context.Context, dir, service, tag string, log io.Writer) ([]string, error) {
	cfg, err := config.Load(filepath.Join(dir, "idp.yaml"))
	if err != nil {
		return nil, fmt.Errorf("is the sandbox up? %w", err)
	}
	repo, ok := cfg.Tooling.Repositories[service]
	if !ok {
		return nil, fmt.Errorf("unknown service %q (known: %v)", service, serviceNames())
	}
	c, err := ecrClient(ctx, cfg.Tooling.AWS.Endpoint)
	if err != nil {
		return nil, err
	}
	digest, err := digestOf(ctx, c, repo, tag)
	if err != nil {
		return nil, err
	}
	// idp pins images by tag and digest (repo:tag@sha256:…): that is the image's suffix.
	suffix := "/" + repo + ":" + tag + "@" + digest
	// Each env at once: a release soaking somewhere must turn bad before its soak ends.
	restarted := make([][]string, len(cfg.Environments))
	errs := make([]error, len(cfg.Environments))
	var wg sync.WaitGroup
	for i, env := range cfg.Environments {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := markBroken(ctx, env.ArgoCD.Kubeconfig, suffix); err != nil {
				errs[i] = fmt.Errorf("marking %s broken in %s: %w", suffix, env.Name, err)
				return
			}
			restarted[i], errs[i] = restartRunning(ctx, env.ArgoCD.Kubeconfig, suffix)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("restarting what runs %s in %s: %w", suffix, env.Name, errs[i])
			}
		}()
	}
	wg.Wait()
	var all []string
	for i, env := range cfg.Environments {
		for _, n := range restarted[i] {
			all = append(all, env.Name+"/"+n)
			fmt.Fprintf(log, "%s: restarted Deployment %s, which runs %s\n", env.Name, n, suffix[1:])
		}
	}
	return all, errors.Join(errs...)
}

// restartRunning restarts every Deployment of the cluster with a container whose image ends
// with suffix, and returns them as "namespace/name".
func restartRunning(ctx context.Context, kubeconfig, suffix string) ([]string, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", kubeconfig, err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	list, err := cs.AppsV1().Deployments(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]any{restartedAtAnnotation: time.Now().UTC().Format(time.RFC3339)}}}}})
	if err != nil {
		return nil, err
	}
	var restarted []string
	for _, d := range list.Items {
		runs := false
		for _, ctr := range d.Spec.Template.Spec.Containers {
			runs = runs || strings.HasSuffix(ctr.Image, suffix)
		}
		if !runs {
			continue
		}
		if _, err := cs.AppsV1().Deployments(d.Namespace).Patch(ctx, d.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: fieldManager}); err != nil {
			return restarted, fmt.Errorf("restarting Deployment %s/%s: %w", d.Namespace, d.Name, err)
		}
		restarted = append(restarted, d.Namespace+"/"+d.Name)
	}
	return restarted, nil
}
