package argocd

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

// testCluster is a real kube-apiserver over its own etcd, serving Argo CD's Application CRD
// and nothing else: no Argo CD runs, so tests write Applications' status as Argo CD would,
// and the activities read it through the same client they use against a cluster.
type testCluster struct {
	kube *dynamicKube
	rc   *rest.Config
}

// startTestCluster starts etcd and kube-apiserver (bin/kube-apiserver, from make tools) for
// the test, installs the Application CRD of the argo-cd module and the argocd namespace, and
// stops both processes when the test ends.
func startTestCluster(t *testing.T) *testCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver; not part of -short")
	}
	apiserver, err := filepath.Abs("../../bin/kube-apiserver")
	require.NoError(t, err)
	if _, err := os.Stat(apiserver); err != nil {
		t.Fatalf("%s is missing: run `make tools`", apiserver)
	}
	etcd, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatalf("etcd is not on PATH: install Debian's etcd-server package (apt-get install etcd-server)")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	clientURL, peerURL := fmt.Sprintf("http://127.0.0.1:%d", freeTestPort(t)), fmt.Sprintf("http://127.0.0.1:%d", freeTestPort(t))
	startTestProc(t, dir, etcd, "--name=test", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+clientURL, "--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL, "--initial-cluster=test="+peerURL,
		"--log-level=warn", "--logger=zap", "--log-outputs=stderr")

	const token = "soak-test-admin-token"
	saKey := filepath.Join(dir, "sa.key")
	writeTestKey(t, saKey)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(token+`,admin,admin,"system:masters"`+"\n"), 0o600))
	port := freeTestPort(t)
	startTestProc(t, dir, apiserver, "--etcd-servers="+clientURL, "--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port), "--cert-dir="+filepath.Join(dir, "certs"),
		"--token-auth-file="+filepath.Join(dir, "tokens.csv"), "--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+saKey, "--service-account-signing-key-file="+saKey,
		"--service-cluster-ip-range=10.96.0.0/12",
		// As in the sandbox: etcd 3.4 lacks what these 1.34 defaults rely on.
		"--feature-gates=WatchList=false,SizeBasedListCostEstimate=false", "--profiling=false")

	rc := &rest.Config{Host: fmt.Sprintf("https://127.0.0.1:%d", port), BearerToken: token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true}} // the apiserver's own self-signed certificate
	k, err := newKube(rc)
	require.NoError(t, err)
	require.NoError(t, waitTest(ctx, "kube-apiserver ready", func() error {
		_, err := k.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Get(ctx, "default", metav1.GetOptions{})
		return err
	}))

	installed, err := ModuleManifest()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(installed), "crds", "application-crd.yaml"))
	require.NoError(t, err)
	objs, err := decode(b)
	require.NoError(t, err)
	objs = append(objs, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": "argocd"}}})
	for _, o := range objs {
		_, err := k.Apply(ctx, o, "test")
		require.NoError(t, err)
	}
	require.NoError(t, waitEstablished(ctx, k, []string{"applications.argoproj.io"}))
	// Established comes a moment before the API server's discovery serves the kind.
	require.NoError(t, waitTest(ctx, "Applications served", func() error {
		k.Refresh()
		_, err := k.List(ctx, gvkApp, "argocd")
		return err
	}))
	return &testCluster{kube: k, rc: rc}
}

// setApp writes the Application as Argo CD would report it: synced to revision, with health
// (and its message) and the images it runs. Safe from any goroutine: it reports a failure
// with t.Errorf.
func (c *testCluster) setApp(t *testing.T, name, revision, health, message string, images ...string) {
	t.Helper()
	imgs := make([]any, len(images))
	for i, img := range images {
		imgs[i] = img
	}
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": name, "namespace": "argocd"},
		"spec": map[string]any{"project": "default", "destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "time-service"},
			"source": map[string]any{"repoURL": "https://github.com/alexpermiakov/idp.git", "path": "helm-charts/standard-service", "targetRevision": "main"}},
		"status": map[string]any{"sync": map[string]any{"status": "Synced", "revision": revision},
			"health":       map[string]any{"status": health, "message": message},
			"reconciledAt": time.Now().UTC().Format(time.RFC3339),
			"summary":      map[string]any{"images": imgs}}}}
	if _, err := c.kube.Apply(context.Background(), o, "argocd-application-controller"); err != nil {
		t.Errorf("writing Application %s: %v", name, err)
	}
}

// appGETs is the kube-apiserver's count of GET requests for Applications so far (its metrics).
func (c *testCluster) appGETs(t *testing.T) int {
	t.Helper()
	return c.appRequests(t)["GET"]
}

// settledAppGETs is appGETs once it has not moved for half a second: the server counts a
// request after it has answered it, so a read that just returned may not be counted yet.
func (c *testCluster) settledAppGETs(t *testing.T) int {
	t.Helper()
	n := c.appGETs(t)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		m := c.appGETs(t)
		if m == n {
			return n
		}
		n = m
	}
	t.Fatalf("GETs of Applications still moving after 30 s (%d)", n)
	return 0
}

// appRequests is the kube-apiserver's count of requests for Applications so far, by verb
// (its metrics: GET, PATCH, APPLY, WATCH, ...).
func (c *testCluster) appRequests(t *testing.T) map[string]int {
	t.Helper()
	hc, err := rest.HTTPClientFor(c.rc)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodGet, c.rc.Host+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+c.rc.BearerToken)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	n := map[string]int{}
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "apiserver_request_total{") || !strings.Contains(l, `resource="applications"`) {
			continue
		}
		_, verb, ok := strings.Cut(l, `verb="`)
		require.True(t, ok, l)
		verb, _, _ = strings.Cut(verb, `"`)
		v, err := strconv.ParseFloat(l[strings.LastIndex(l, " ")+1:], 64)
		require.NoError(t, err, l)
		n[verb] += int(v)
	}
	return n
}

// deleteApp deletes the Application, reporting a failure with t.Errorf.
func (c *testCluster) deleteApp(t *testing.T, name string) {
	gvr := schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}
	if err := c.kube.dyn.Resource(gvr).Namespace("argocd").Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Errorf("deleting Application %s: %v", name, err)
	}
}

// startTestProc starts a process whose output goes to a log in dir, and stops it when the
// test ends, printing the log's tail if the test failed.
func startTestProc(t *testing.T, dir, bin string, args ...string) {
	t.Helper()
	log, err := os.Create(filepath.Join(dir, filepath.Base(bin)+".log"))
	require.NoError(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("%s log (tail):\n%s", filepath.Base(bin), b)
		}
	})
}

func freeTestPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeTestKey(t *testing.T, path string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	b := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

// waitTest polls check until it succeeds or ctx ends, with the last error.
func waitTest(ctx context.Context, what string, check func() error) error {
	var err error
	for {
		if err = check(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("waiting for %s: %w", what, ctx.Err()), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
