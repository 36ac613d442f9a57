package chartcheck

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// apiserverTimeout bounds the start of etcd and kube-apiserver: generous for a busy 2-core
// machine.
const apiserverTimeout = 2 * time.Minute

// warnings collects the warnings the API server sends back (PodSecurity's among them).
type warnings struct {
	mu   sync.Mutex
	list []string
}

// HandleWarningHeader implements rest.WarningHandler.
func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

// take returns the warnings since the last take.
func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

// startAPIServer starts etcd and a kube-apiserver (the repository's ./bin/kube-apiserver,
// Kubernetes v1.34.2, and etcd from ./bin or PATH: Debian's etcd-server) with state in a
// temporary directory, and returns an admin client configuration once the server is ready.
// Both stop when the test ends. Like the sandbox's control plane, minus the controllers and
// nodes a dry run does not need.
func startAPIServer(t *testing.T) (*rest.Config, *warnings) {
	t.Helper()
	binDir, err := filepath.Abs("../../bin")
	require.NoError(t, err)
	apiserver := filepath.Join(binDir, "kube-apiserver")
	if _, err := os.Stat(apiserver); err != nil {
		t.Fatalf("%s is missing: run `make kube-tools`", apiserver)
	}
	etcd := filepath.Join(binDir, "etcd")
	if _, err := os.Stat(etcd); err != nil {
		if etcd, err = exec.LookPath("etcd"); err != nil {
			t.Fatal("etcd is not on PATH (nor in ./bin): install Debian's etcd-server package (apt-get install etcd-server)")
		}
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), apiserverTimeout)
	defer cancel()

	etcdURL := "http://127.0.0.1:" + strconv.Itoa(freePort(t))
	peerURL := "http://127.0.0.1:" + strconv.Itoa(freePort(t))
	etcdProc := startProcess(t, dir, "etcd", etcd,
		"--name=chartcheck", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=chartcheck="+peerURL, "--initial-cluster-state=new",
		"--logger=zap", "--log-outputs=stderr", "--log-level=warn")

	token := randomHex(t)
	tokens := filepath.Join(dir, "tokens.csv")
	require.NoError(t, os.WriteFile(tokens, []byte(token+",chartcheck-admin,chartcheck-admin,system:masters\n"), 0o600))
	saKey := writeRSAKey(t, filepath.Join(dir, "sa.key"))
	port := freePort(t)
	apiProc := startProcess(t, dir, "kube-apiserver", apiserver,
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port),
		// A self-signed serving certificate, written there.
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--token-auth-file="+tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+saKey,
		"--service-account-signing-key-file="+saKey,
		"--service-cluster-ip-range=10.96.0.0/12",
		// Debian's etcd 3.4 lacks what these 1.34 defaults rely on (see cmd/sandbox/stack).
		"--feature-gates=WatchList=false,SizeBasedListCostEstimate=false",
		"--profiling=false",
	)
	// The serving certificate is self-signed and the server listens on loopback only.
	cfg := &rest.Config{
		Host:            "https://127.0.0.1:" + strconv.Itoa(port),
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS:             50,
		Burst:           100,
	}
	warn := &warnings{}
	cfg.WarningHandler = warn
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	var last error
	for {
		if err := etcdProc.exited(); err != nil {
			t.Fatalf("etcd: %v", err)
		}
		if err := apiProc.exited(); err != nil {
			t.Fatalf("kube-apiserver: %v", err)
		}
		_, last = cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if last == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("kube-apiserver not ready after %s: %v\n%s", apiserverTimeout, last, apiProc.tail())
		case <-time.After(200 * time.Millisecond):
		}
	}
	warn.take()
	return cfg, warn
}

// process is a started program that the test stops when it ends.
type process struct {
	name, log string
	cmd       *exec.Cmd
	done      chan struct{}
	err       error
}

// startProcess starts bin with its output in dir/<name>.log and stops it (SIGTERM, then
// SIGKILL after 15 s) when the test ends; cleanups run in reverse, so the API server stops
// before etcd.
func startProcess(t *testing.T, dir, name, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	out, err := os.Create(p.log)
	require.NoError(t, err)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	require.NoError(t, p.cmd.Start(), "starting %s", name)
	go func() {
		p.err = p.cmd.Wait()
		out.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// exited returns why the process ended, or nil while it runs.
func (p *process) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("exited (%v):\n%s", p.err, p.tail())
	default:
		return nil
	}
}

// tail is the end of the process's log, for failure messages.
func (p *process) tail() string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-30):], "\n")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// writeRSAKey writes a new service-account signing key (the API server reads the public
// half from it too) and returns its path.
func writeRSAKey(t *testing.T, path string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	b := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}
