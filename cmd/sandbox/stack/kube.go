package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Start-up deadlines: generous for a cold, busy 2-core machine, where the three control planes
// start side by side.
const (
	etcdTimeout      = 30 * time.Second
	apiserverTimeout = 90 * time.Second
	nodeTimeout      = 90 * time.Second
	stopGrace        = 10 * time.Second
)

// kubePlane is the Kubernetes part of the stack: per environment, a control plane standing in
// for that environment's EKS API (kube-apiserver, kube-controller-manager, kube-scheduler) and
// kwok playing one node, so Deployments really become Available. The control planes share one
// etcd under distinct key prefixes and share nothing else: no cluster-scoped object of one
// environment is visible in another.
type kubePlane struct {
	// procs are the processes in start order (for the stack's state file).
	procs []*proc
	// Kubeconfigs maps an environment to its kubeconfig, <dir>/kube/<env>.kubeconfig.
	Kubeconfigs map[string]string
	// Servers maps an environment to its API server URL.
	Servers map[string]string

	mu       sync.Mutex
	etcd     *proc
	envs     []string
	envProcs map[string][]*proc
	// ports are the ports the plane listens on, free again after Close.
	ports []int
	logf  func(string, ...any)
}

// kubeBinaries are the paths of the programs a kubePlane runs.
type kubeBinaries struct {
	etcd, apiserver, controllerManager, scheduler, kwok string
}

// findKubeBinaries looks for the Kubernetes binaries in binDir and etcd in binDir or on PATH,
// and names every missing one at once.
func findKubeBinaries(binDir string) (kubeBinaries, error) {
	var errs []error
	path := func(name string) string {
		p := filepath.Join(binDir, name)
		if _, err := os.Stat(p); err != nil {
			errs = append(errs, fmt.Errorf("%s is missing: run `make kube-tools`", p))
		}
		return p
	}
	b := kubeBinaries{
		apiserver:         path("kube-apiserver"),
		controllerManager: path("kube-controller-manager"),
		scheduler:         path("kube-scheduler"),
		kwok:              path("kwok"),
	}
	b.etcd = filepath.Join(binDir, "etcd")
	if _, err := os.Stat(b.etcd); err != nil {
		if b.etcd, err = exec.LookPath("etcd"); err != nil {
			errs = append(errs, errors.New("etcd is not on PATH (nor in the bin directory): install Debian's etcd-server package (apt-get install etcd-server)"))
		}
	}
	return b, errors.Join(errs...)
}

// startKubernetes starts one control plane per environment, with state under dir (logs in
// dir/logs/<env>-<component>.log, kubeconfigs in dir/kube/<env>.kubeconfig), and returns once
// each environment's API server is ready, its node is Ready and its default service account
// exists, so pods can be created. The environments start side by side. On failure it stops
// what it started.
func startKubernetes(ctx context.Context, dir, binDir string, envs []string, logf func(string, ...any)) (_ *kubePlane, err error) {
	started := time.Now()
	if logf == nil {
		logf = func(string, ...any) {}
	}
	bins, err := findKubeBinaries(binDir)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"logs", "kube"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	k := &kubePlane{
		Kubeconfigs: map[string]string{},
		Servers:     map[string]string{},
		envs:        envs,
		envProcs:    map[string][]*proc{},
		logf:        logf,
	}
	defer func() {
		if err != nil {
			k.Close()
		}
	}()

	etcdURL, err := k.startEtcd(ctx, dir, bins.etcd)
	if err != nil {
		return nil, err
	}
	logf("kube: etcd ready on %s (%.1fs)", etcdURL, time.Since(started).Seconds())

	// One environment failing stops the others' waits at once.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(envs))
	var wg sync.WaitGroup
	for i, env := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = k.startEnv(ctx, dir, env, etcdURL, bins); errs[i] != nil {
				errs[i] = fmt.Errorf("starting Kubernetes for %s: %w", env, errs[i])
				cancel()
			}
		}()
	}
	wg.Wait()
	// Report the first cause, not the cancellations it caused in the other environments.
	for _, e := range errs {
		if e != nil && !errors.Is(e, context.Canceled) {
			return nil, e
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	logf("kube: %d control planes ready in %.1fs", len(envs), time.Since(started).Seconds())
	return k, nil
}

// start starts one component of env ("" for shared ones), logging to dir/logs/<name>.log.
func (k *kubePlane) start(dir, env, component string, extraEnv []string, bin string, args ...string) (*proc, error) {
	name := component
	if env != "" {
		name = env + "-" + component
	}
	p, err := startProc(name, filepath.Join(dir, "logs", name+".log"), append(os.Environ(), extraEnv...), bin, args...)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.procs = append(k.procs, p)
	if env != "" {
		k.envProcs[env] = append(k.envProcs[env], p)
	}
	return p, nil
}

// reservePort picks a free port for a component of the plane, never one it gave out before:
// the environments pick theirs at the same time.
func (k *kubePlane) reservePort() (int, error) {
	for {
		port, err := FreePort()
		if err != nil {
			return 0, err
		}
		k.mu.Lock()
		taken := slices.Contains(k.ports, port)
		if !taken {
			k.ports = append(k.ports, port)
		}
		k.mu.Unlock()
		if !taken {
			return port, nil
		}
	}
}

// startEtcd starts the etcd all control planes share and returns its client URL.
func (k *kubePlane) startEtcd(ctx context.Context, dir, bin string) (string, error) {
	clientPort, err := k.reservePort()
	if err != nil {
		return "", err
	}
	peerPort, err := k.reservePort()
	if err != nil {
		return "", err
	}
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	p, err := k.start(dir, "", "etcd", nil, bin,
		"--name=sandbox",
		"--data-dir="+filepath.Join(dir, "kube", "etcd"),
		"--listen-client-urls="+clientURL,
		"--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=sandbox="+peerURL,
		"--initial-cluster-state=new",
		"--logger=zap", "--log-outputs=stderr", "--log-level=warn",
	)
	if err != nil {
		return "", err
	}
	k.etcd = p
	err = waitFor(ctx, "etcd", p, etcdTimeout, func(ctx context.Context) error {
		return etcdHealthy(ctx, clientURL)
	})
	return clientURL, err
}

func etcdHealthy(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var h struct {
		Health string `json:"health"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &h); err != nil || h.Health != "true" {
		return fmt.Errorf("etcd not healthy: %s", b)
	}
	return nil
}

// startEnv starts env's control plane and kwok and waits until pods can run there.
func (k *kubePlane) startEnv(ctx context.Context, dir, env, etcdURL string, bins kubeBinaries) error {
	started := time.Now()
	since := func() float64 { return time.Since(started).Seconds() }
	pki, err := newClusterPKI(filepath.Join(dir, "kube", env, "pki"), "idp-"+env)
	if err != nil {
		return err
	}
	port, err := k.reservePort()
	if err != nil {
		return err
	}
	server := fmt.Sprintf("https://127.0.0.1:%d", port)
	apiserver, err := k.startAPIServer(dir, env, etcdURL, port, pki, bins.apiserver)
	if err != nil {
		return err
	}
	cs, dc, err := adminClients(server, pki)
	if err != nil {
		return err
	}
	if err := waitFor(ctx, env+" kube-apiserver", apiserver, apiserverTimeout, func(ctx context.Context) error {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	}); err != nil {
		return err
	}
	k.logf("kube[%s]: kube-apiserver ready on %s (%.1fs)", env, server, since())

	kubeconfig := filepath.Join(dir, "kube", env+".kubeconfig")
	if err := writeKubeconfig(kubeconfig, "idp-"+env, server, pki); err != nil {
		return err
	}
	k.mu.Lock()
	k.Kubeconfigs[env], k.Servers[env] = kubeconfig, server
	k.mu.Unlock()

	controllers, err := k.startControllers(dir, env, kubeconfig, pki, bins)
	if err != nil {
		return err
	}
	kwok, err := k.startKwok(ctx, dir, env, kubeconfig, dc, cs, bins.kwok)
	if err != nil {
		return err
	}
	procs := append(append([]*proc{apiserver}, controllers...), kwok)
	if err := waitPodsCanRun(ctx, env, procs, cs); err != nil {
		return err
	}
	k.logf("kube[%s]: node %s Ready, default service account in place (%.1fs)", env, kwokNodeName(env), since())
	return nil
}

// startAPIServer starts env's kube-apiserver on port, keeping its objects under its own prefix
// of the shared etcd.
func (k *kubePlane) startAPIServer(dir, env, etcdURL string, port int, pki *clusterPKI, bin string) (*proc, error) {
	return k.start(dir, env, "kube-apiserver", nil, bin,
		"--etcd-servers="+etcdURL,
		// The prefix is what keeps each environment's objects apart in the shared etcd.
		"--etcd-prefix=/idp/"+env,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port),
		"--tls-cert-file="+pki.ServingCert,
		"--tls-private-key-file="+pki.ServingKey,
		"--token-auth-file="+pki.TokenAuthFile,
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pki.SAPub,
		"--service-account-signing-key-file="+pki.SAKey,
		"--service-cluster-ip-range=10.96.0.0/12",
		"--allow-privileged=true",
		// etcd 3.4.23 predates the watch progress notifications 1.34's watch cache relies on.
		// WatchList breaks watches that start from the beginning (kwok would see pods only
		// when its watch is retried, 25 s and more per pod); SizeBasedListCostEstimate has
		// every resource wait 3 s a minute for the cache to catch up, in vain, and holds
		// shutdown up until it is killed.
		"--feature-gates=WatchList=false,SizeBasedListCostEstimate=false",
		"--profiling=false",
	)
}

// adminClients returns a typed and a dynamic client of the API server at server, acting as
// the cluster's admin.
func adminClients(server string, pki *clusterPKI) (*kubernetes.Clientset, *dynamic.DynamicClient, error) {
	cfg := &rest.Config{
		Host:            server,
		BearerToken:     pki.AdminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: pki.CAPEM},
		QPS:             50,
		Burst:           100,
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	return cs, dc, nil
}

// startControllers starts env's kube-controller-manager and kube-scheduler, which reach the
// API server through kubeconfig.
func (k *kubePlane) startControllers(dir, env, kubeconfig string, pki *clusterPKI, bins kubeBinaries) ([]*proc, error) {
	cm, err := k.start(dir, env, "kube-controller-manager", nil, bins.controllerManager,
		"--kubeconfig="+kubeconfig,
		"--leader-elect=false",
		// No HTTPS endpoint: nothing scrapes it, and a fixed default port would collide
		// between environments.
		"--secure-port=0",
		"--cluster-name=idp-"+env,
		"--service-account-private-key-file="+pki.SAKey,
		"--root-ca-file="+pki.CAFile,
		"--use-service-account-credentials=false",
		// No cloud and no pod network: the controllers that need them would only log errors.
		"--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
		// The API server has WatchList off (startAPIServer): without this, every informer
		// first tries it, fails and logs an error before it falls back to LIST and WATCH.
		"--feature-gates=WatchListClient=false",
	)
	if err != nil {
		return nil, err
	}
	scheduler, err := k.start(dir, env, "kube-scheduler", nil, bins.scheduler,
		"--kubeconfig="+kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--feature-gates=WatchListClient=false",
	)
	if err != nil {
		return nil, err
	}
	return []*proc{cm, scheduler}, nil
}

// waitPodsCanRun waits until env's node is Ready and its default service account exists, and
// fails as soon as one of procs, which bring that about, exits.
func waitPodsCanRun(ctx context.Context, env string, procs []*proc, cs kubernetes.Interface) error {
	node := kwokNodeName(env)
	if err := waitAll(ctx, env+" node "+node, procs, nodeTimeout, func(ctx context.Context) error {
		return nodeReady(ctx, cs, node)
	}); err != nil {
		return err
	}
	return waitAll(ctx, env+" default service account", procs, nodeTimeout, func(ctx context.Context) error {
		_, err := cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

// writeKubeconfig writes a kubeconfig for the cluster's admin, as `aws eks update-kubeconfig`
// would for the cluster's creator; the cluster and context are named after the EKS cluster.
func writeKubeconfig(path, cluster, server string, pki *clusterPKI) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[cluster] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: pki.CAPEM}
	cfg.AuthInfos[cluster+"-admin"] = &clientcmdapi.AuthInfo{Token: pki.AdminToken}
	cfg.Contexts[cluster] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: cluster + "-admin", Namespace: metav1.NamespaceDefault}
	cfg.CurrentContext = cluster
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Close stops every process the plane started: each environment's components in reverse start
// order (the environments side by side), then etcd.
func (k *kubePlane) Close() {
	var wg sync.WaitGroup
	for _, env := range k.envs {
		procs := k.envProcs[env]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := len(procs) - 1; i >= 0; i-- {
				procs[i].stop(stopGrace)
			}
		}()
	}
	wg.Wait()
	if k.etcd != nil {
		k.etcd.stop(stopGrace)
	}
}
