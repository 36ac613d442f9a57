package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// argoReconcile is the Argo CD processes' reconciliation period (and the repo-server's branch
// cache lifetime). idp asks for an explicit refresh when it needs one sooner.
const argoReconcile = "60s"

// argoTools are the Argo CD multi-call binary's names the stack runs (`make kube-tools`).
// helm renders the charts Applications point at.
var argoTools = []string{"argocd", "argocd-application-controller", "argocd-repo-server", "argocd-git-ask-pass", "helm"}

// watchArgoCD starts an env's Argo CD processes once bootstrap has installed Argo CD there.
// In the cluster, kwok runs the installed Deployments' pods as fakes; outside it, the stack
// runs the real application-controller and repo-server they stand for. Before bootstrap an
// env has no Argo CD, as on a new account.
func (s *Stack) watchArgoCD(ctx context.Context, kubeconfigs map[string]string) {
	pending := map[string]string{}
	for env, kc := range kubeconfigs {
		pending[env] = kc
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for len(pending) > 0 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, env := range sortedKeys(pending) {
			installed, err := argoInstalled(ctx, pending[env])
			if err != nil || !installed {
				continue
			}
			if err := s.startArgoCD(env, pending[env]); err != nil {
				s.logf("starting Argo CD for %s: %v", env, err)
				continue
			}
			delete(pending, env)
		}
	}
}

// argoInstalled reports whether the env's cluster has Argo CD's namespace, settings and CRD.
func argoInstalled(ctx context.Context, kubeconfig string) (bool, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return false, err
	}
	rc.Timeout = 2 * time.Second
	c, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return false, err
	}
	_, err = c.CoreV1().ConfigMaps("argocd").Get(ctx, "argocd-cm", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// The app-of-apps is applied last: once it exists, the install is complete.
	_, err = c.RESTClient().Get().AbsPath("/apis/argoproj.io/v1alpha1/namespaces/argocd/applications").DoRaw(ctx)
	return err == nil, nil
}

// startArgoCD runs redis, the repo-server and the application-controller for one env.
func (s *Stack) startArgoCD(env, kubeconfig string) error {
	base := filepath.Join(s.opts.Dir, "argocd", env)
	for _, d := range []string{"tmp", "home"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			return err
		}
	}
	redisPort, err := FreePort()
	if err != nil {
		return err
	}
	repoPort, err := FreePort()
	if err != nil {
		return err
	}
	// Each process also serves metrics, on a fixed default port: give each env its own.
	repoMetrics, err := FreePort()
	if err != nil {
		return err
	}
	ctrlMetrics, err := FreePort()
	if err != nil {
		return err
	}
	redis, err := startProc(env+"-redis", filepath.Join(s.opts.Dir, "logs", env+"-redis.log"), os.Environ(),
		"redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(redisPort), "--save", "", "--appendonly", "no",
		"--dir", base)
	if err != nil {
		return fmt.Errorf("redis-server (apt-get install redis-server): %w", err)
	}
	s.addProc(redis)
	procEnv := append(os.Environ(),
		"ARGOCD_FAKE_IN_CLUSTER=true",
		"KUBECONFIG="+kubeconfig,
		"ARGOCD_GPG_ENABLED=false",
		"ARGOCD_ASK_PASS_SOCK="+filepath.Join(base, "askpass.sock"),
		"ARGOCD_RECONCILIATION_TIMEOUT="+argoReconcile,
		"TMPDIR="+filepath.Join(base, "tmp"),
		"HOME="+filepath.Join(base, "home"),
		"PATH="+s.opts.BinDir+string(os.PathListSeparator)+os.Getenv("PATH"),
	)
	redisAddr := "127.0.0.1:" + strconv.Itoa(redisPort)
	repo, err := startProc(env+"-argocd-repo-server", filepath.Join(s.opts.Dir, "logs", env+"-argocd-repo-server.log"), procEnv,
		filepath.Join(s.opts.BinDir, "argocd-repo-server"), "--disable-tls", "--address", "127.0.0.1",
		"--port", strconv.Itoa(repoPort), "--metrics-port", strconv.Itoa(repoMetrics), "--redis", redisAddr, "--loglevel", "warn")
	if err != nil {
		return err
	}
	s.addProc(repo)
	ctrl, err := startProc(env+"-argocd-application-controller", filepath.Join(s.opts.Dir, "logs", env+"-argocd-application-controller.log"), procEnv,
		filepath.Join(s.opts.BinDir, "argocd-application-controller"), "--kubeconfig", kubeconfig, "--namespace", "argocd",
		"--repo-server", "127.0.0.1:"+strconv.Itoa(repoPort), "--repo-server-plaintext", "--redis", redisAddr,
		"--metrics-port", strconv.Itoa(ctrlMetrics), "--loglevel", "warn")
	if err != nil {
		return err
	}
	s.addProc(ctrl)
	s.logf("Argo CD installed in %s: application-controller and repo-server started", env)
	return s.saveState()
}
