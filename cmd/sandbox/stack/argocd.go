package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
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

// watchArgoCD starts each env's Argo CD processes once bootstrap has installed Argo CD there.
// In the cluster, kwok runs the installed Deployments' pods as fakes; outside it, the stack
// runs the real application-controller and repo-server they stand for. Before bootstrap an
// env has no Argo CD, as on a new account. Envs start side by side: a controller takes a
// while to sync its caches.
func (s *Stack) watchArgoCD(ctx context.Context, kubeconfigs map[string]string) {
	for _, env := range sortedKeys(kubeconfigs) {
		go s.watchEnvArgoCD(ctx, env, kubeconfigs[env])
	}
}

// watchEnvArgoCD is watchArgoCD for one env: every second until Argo CD is installed, then
// until its processes serve, pausing 10 s after a start that failed.
func (s *Stack) watchEnvArgoCD(ctx context.Context, env, kubeconfig string) {
	pause := time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = time.Second
		if installed, err := argoInstalled(ctx, kubeconfig); err != nil || !installed {
			continue
		}
		err := s.startArgoCD(ctx, env, kubeconfig)
		if err == nil || ctx.Err() != nil {
			return
		}
		s.logf("starting Argo CD for %s: %v", env, err)
		pause = 10 * time.Second
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

// argoStartAttempts is how often startArgoCD picks new ports after one was taken.
const argoStartAttempts = 3

// argoStartTimeout bounds the wait for an env's Argo CD processes to serve: the controller
// opens its metrics port only once its caches have synced.
const argoStartTimeout = 3 * time.Minute

// startArgoCD runs redis, the repo-server and the application-controller for one env, and
// returns once each serves on its port. A port taken before its process bound it starts the
// three again on other ports; any other failure stops them and says why.
func (s *Stack) startArgoCD(ctx context.Context, env, kubeconfig string) error {
	for attempt := 1; ; attempt++ {
		procs, err := s.runArgoCD(ctx, env, kubeconfig)
		if err == nil {
			for _, p := range procs {
				p.starting.Store(false)
			}
			s.logf("Argo CD installed in %s: application-controller and repo-server started", env)
			return s.saveState()
		}
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].stop(10 * time.Second)
		}
		s.removeProcs(procs)
		if !errors.Is(err, ErrPortTaken) || attempt == argoStartAttempts {
			return err
		}
		s.logf("Argo CD for %s, attempt %d: %v: starting again on other ports", env, attempt, err)
	}
}

// runArgoCD starts an env's Argo CD processes on fresh ports and waits until they serve. It
// returns what it started, for the caller to keep or stop; the stack records each as it
// starts, so closing the stack meanwhile stops it too.
func (s *Stack) runArgoCD(ctx context.Context, env, kubeconfig string) ([]*proc, error) {
	base := filepath.Join(s.opts.Dir, "argocd", env)
	for _, d := range []string{"tmp", "home"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			return nil, err
		}
	}
	// redis, the repo-server and its metrics, the controller's metrics (each has a fixed
	// default: every env needs its own).
	ports := make([]int, 4)
	for i := range ports {
		var err error
		if ports[i], err = FreePort(); err != nil {
			return nil, err
		}
	}
	redisAddr, repoAddr := "127.0.0.1:"+strconv.Itoa(ports[0]), "127.0.0.1:"+strconv.Itoa(ports[1])
	logs := filepath.Join(s.opts.Dir, "logs")
	redis, err := startProc(env+"-redis", filepath.Join(logs, env+"-redis.log"), os.Environ(),
		"redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(ports[0]), "--save", "", "--appendonly", "no",
		"--dir", base)
	if err != nil {
		return nil, fmt.Errorf("redis-server (apt-get install redis-server): %w", err)
	}
	redis.starting.Store(true)
	s.addProc(redis)
	procs := []*proc{redis}
	procEnv := s.argoEnv(base, kubeconfig)
	repo, err := startProc(env+"-argocd-repo-server", filepath.Join(logs, env+"-argocd-repo-server.log"), procEnv,
		filepath.Join(s.opts.BinDir, "argocd-repo-server"), "--disable-tls", "--address", "127.0.0.1",
		"--port", strconv.Itoa(ports[1]), "--metrics-port", strconv.Itoa(ports[2]), "--redis", redisAddr, "--loglevel", "warn")
	if err != nil {
		return procs, err
	}
	repo.starting.Store(true)
	s.addProc(repo)
	procs = append(procs, repo)
	ctrl, err := startProc(env+"-argocd-application-controller", filepath.Join(logs, env+"-argocd-application-controller.log"), procEnv,
		filepath.Join(s.opts.BinDir, "argocd-application-controller"), "--kubeconfig", kubeconfig, "--namespace", "argocd",
		"--repo-server", repoAddr, "--repo-server-plaintext", "--redis", redisAddr,
		"--metrics-port", strconv.Itoa(ports[3]), "--loglevel", "warn")
	if err != nil {
		return procs, err
	}
	ctrl.starting.Store(true)
	s.addProc(ctrl)
	procs = append(procs, ctrl)
	return procs, waitAll(ctx, "Argo CD for "+env, procs, argoStartTimeout, func(ctx context.Context) error {
		return listening(ctx, ports...)
	})
}

// argoEnv is the environment of an env's Argo CD processes (SANDBOX-NOTES: running Argo CD
// outside the cluster).
func (s *Stack) argoEnv(base, kubeconfig string) []string {
	return append(os.Environ(),
		"ARGOCD_FAKE_IN_CLUSTER=true",
		"KUBECONFIG="+kubeconfig,
		"ARGOCD_GPG_ENABLED=false",
		"ARGOCD_ASK_PASS_SOCK="+filepath.Join(base, "askpass.sock"),
		"ARGOCD_RECONCILIATION_TIMEOUT="+argoReconcile,
		"TMPDIR="+filepath.Join(base, "tmp"),
		"HOME="+filepath.Join(base, "home"),
		"PATH="+s.opts.BinDir+string(os.PathListSeparator)+os.Getenv("PATH"),
	)
}

// listening says which of the ports on 127.0.0.1 does not accept a connection yet.
func listening(ctx context.Context, ports ...int) error {
	var d net.Dialer
	for _, port := range ports {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		cancel()
		if err != nil {
			return fmt.Errorf("port %d: %w", port, err)
		}
		c.Close()
	}
	return nil
}
