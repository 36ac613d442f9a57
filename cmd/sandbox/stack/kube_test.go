package stack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestKubePlane starts one environment's control plane with kwok, runs a Deployment to
// Available, declares an image broken and watches a Deployment of it miss its progress
// deadline, then checks Close leaves no process and no port behind.
func TestKubePlane(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Kubernetes control plane; not part of -short")
	}
	binDir, err := filepath.Abs("../../../bin")
	require.NoError(t, err)
	if _, err := findKubeBinaries(binDir); err != nil {
		t.Fatalf("the Kubernetes binaries are missing:\n%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	started := time.Now()
	k, err := startKubernetes(ctx, t.TempDir(), binDir, []string{"dev"}, t.Logf)
	require.NoError(t, err)
	closed := false
	t.Cleanup(func() {
		if !closed {
			k.Close()
		}
	})
	t.Logf("control plane up in %.1fs", time.Since(started).Seconds())

	cfg, err := clientcmd.BuildConfigFromFlags("", k.Kubeconfigs["dev"])
	require.NoError(t, err)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)

	const ns = "time-service"
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	// Pods of a namespace can only be created once its default service account exists.
	require.NoError(t, waitFor(ctx, "default service account in "+ns, nil, 30*time.Second, func(ctx context.Context) error {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err
	}))

	t.Run("good image becomes Available", func(t *testing.T) {
		start := time.Now()
		_, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("good", "123456789012.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:v1.2.3", 60), metav1.CreateOptions{})
		require.NoError(t, err)
		require.NoError(t, waitFor(ctx, "deployment good Available", nil, 60*time.Second, func(ctx context.Context) error {
			return deploymentCondition(ctx, cs, ns, "good", appsv1.DeploymentAvailable, corev1.ConditionTrue, "")
		}))
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "good", metav1.GetOptions{})
		require.NoError(t, err)
		require.EqualValues(t, 2, d.Status.ReadyReplicas)
		t.Logf("Available in %.1fs", time.Since(start).Seconds())
	})

	t.Run("broken image exceeds its progress deadline", func(t *testing.T) {
		start := time.Now()
		require.NoError(t, markBroken(ctx, k.Kubeconfigs["dev"], "/idp/localtime:v1.2.4"))
		// Idempotent: declaring it again changes nothing.
		require.NoError(t, markBroken(ctx, k.Kubeconfigs["dev"], "/idp/localtime:v1.2.4"))
		t.Logf("marked broken in %.1fs", time.Since(start).Seconds())

		start = time.Now()
		_, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("bad", "123456789012.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:v1.2.4", 10), metav1.CreateOptions{})
		require.NoError(t, err)
		require.NoError(t, waitFor(ctx, "deployment bad ProgressDeadlineExceeded", nil, 60*time.Second, func(ctx context.Context) error {
			return deploymentCondition(ctx, cs, ns, "bad", appsv1.DeploymentProgressing, corev1.ConditionFalse, "ProgressDeadlineExceeded")
		}))
		t.Logf("ProgressDeadlineExceeded after %.1fs", time.Since(start).Seconds())

		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=bad"})
		require.NoError(t, err)
		require.Len(t, pods.Items, 2)
		for _, p := range pods.Items {
			require.Equal(t, corev1.PodRunning, p.Status.Phase, "pod %s", p.Name)
			require.False(t, podReady(&p), "pod %s of a broken image is Ready", p.Name)
		}
		// The good image is untouched.
		require.NoError(t, deploymentCondition(ctx, cs, ns, "good", appsv1.DeploymentAvailable, corev1.ConditionTrue, ""))
	})

	t.Run("an image that goes bad after it ran is rolled again and misses its deadline", func(t *testing.T) {
		const img = "123456789012.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:sha-6a7b8c9@sha256:6a7b"
		_, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("later", img, 10), metav1.CreateOptions{})
		require.NoError(t, err)
		require.NoError(t, waitFor(ctx, "deployment later Available", nil, 60*time.Second, func(ctx context.Context) error {
			return deploymentCondition(ctx, cs, ns, "later", appsv1.DeploymentAvailable, corev1.ConditionTrue, "")
		}))
		require.NoError(t, markBroken(ctx, k.Kubeconfigs["dev"], "/idp/localtime:sha-6a7b8c9@sha256:6a7b"))
		restarted, err := restartRunning(ctx, k.Kubeconfigs["dev"], "/idp/localtime:sha-6a7b8c9@sha256:6a7b")
		require.NoError(t, err)
		require.Equal(t, []string{ns + "/later"}, restarted, "only the Deployment running that image")
		start := time.Now()
		require.NoError(t, waitFor(ctx, "deployment later ProgressDeadlineExceeded", nil, 60*time.Second, func(ctx context.Context) error {
			return deploymentCondition(ctx, cs, ns, "later", appsv1.DeploymentProgressing, corev1.ConditionFalse, "ProgressDeadlineExceeded")
		}))
		t.Logf("ProgressDeadlineExceeded %.1fs after the restart", time.Since(start).Seconds())
		require.NoError(t, deploymentCondition(ctx, cs, ns, "good", appsv1.DeploymentAvailable, corev1.ConditionTrue, ""), "other images are untouched")
	})

	procs := append([]*proc(nil), k.procs...)
	ports := append([]int(nil), k.ports...)
	require.Len(t, procs, 5, "etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok")
	start := time.Now()
	k.Close()
	closed = true
	t.Logf("stopped in %.1fs", time.Since(start).Seconds())
	for _, p := range procs {
		require.False(t, PIDAlive(p.PID), "%s (pid %d) still runs", p.Name, p.PID)
	}
	for _, port := range ports {
		require.True(t, portFree(port), "port %d still in use", port)
	}
}

// TestKwokAssets checks the embedded stages: the ones kwok needs are there, and a pod-broken
// stage wins over pod-ready for its image whatever the suffix holds.
func TestKwokAssets(t *testing.T) {
	t.Parallel()
	for _, name := range append([]string{"stage-crd.yaml", "pod-broken.yaml"}, kwokStages...) {
		obj, err := readAsset(name)
		require.NoError(t, err, name)
		require.NotEmpty(t, obj.GetName(), name)
	}
	ready, err := readAsset("pod-ready.yaml")
	require.NoError(t, err)
	weight, found, err := unstructured.NestedInt64(ready.Object, "spec", "weight")
	require.NoError(t, err)
	require.True(t, found && weight == 0, "pod-ready must have weight 0 so a matching pod-broken stage always wins")

	tests := []struct {
		suffix string
		key    string
	}{
		{"/idp/localtime:v1.2.4", `.spec.containers.[].image | endswith("/idp/localtime:v1.2.4")`},
		{`:we"ird\`, `.spec.containers.[].image | endswith(":we\"ird\\")`},
	}
	for _, tt := range tests {
		stage, err := brokenStage(tt.suffix)
		require.NoError(t, err)
		require.Equal(t, brokenStageName(tt.suffix), stage.GetName())
		require.Equal(t, tt.suffix, stage.GetAnnotations()[brokenSuffixAnnotation])
		weight, _, err := unstructured.NestedInt64(stage.Object, "spec", "weight")
		require.NoError(t, err)
		require.EqualValues(t, 1, weight)
		exprs, _, err := unstructured.NestedSlice(stage.Object, "spec", "selector", "matchExpressions")
		require.NoError(t, err)
		last := exprs[len(exprs)-1].(map[string]any)
		require.Equal(t, tt.key, last["key"])
		require.Equal(t, []any{"true"}, last["values"])
	}
	require.NotEqual(t, brokenStageName("/idp/localtime:v1.2.4"), brokenStageName("/idp/localtime:v1.2.5"))
}

// TestClusterPKI checks the serving certificate verifies against the CA under the names
// clients use, and that each cluster gets its own CA.
func TestClusterPKI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dev, err := newClusterPKI(filepath.Join(dir, "dev"), "idp-dev")
	require.NoError(t, err)
	prod, err := newClusterPKI(filepath.Join(dir, "prod"), "idp-prod")
	require.NoError(t, err)
	require.NotEqual(t, dev.CAPEM, prod.CAPEM)
	require.NotEqual(t, dev.AdminToken, prod.AdminToken)

	pair, err := tls.LoadX509KeyPair(dev.ServingCert, dev.ServingKey)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	require.NoError(t, err)
	for _, name := range []string{"127.0.0.1", "localhost", "kubernetes.default.svc"} {
		roots := x509.NewCertPool()
		require.True(t, roots.AppendCertsFromPEM(dev.CAPEM))
		_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name})
		require.NoError(t, err, name)
		other := x509.NewCertPool()
		require.True(t, other.AppendCertsFromPEM(prod.CAPEM))
		_, err = leaf.Verify(x509.VerifyOptions{Roots: other, DNSName: name})
		require.Error(t, err, "prod's CA must not vouch for dev's apiserver")
	}
	b, err := os.ReadFile(dev.TokenAuthFile)
	require.NoError(t, err)
	require.Equal(t, dev.AdminToken+`,admin,admin,"system:masters"`+"\n", string(b))
}

func deployment(name, image string, progressDeadline int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas:                new(int32(2)),
			ProgressDeadlineSeconds: new(progressDeadline),
			Selector:                &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
			},
		},
	}
}

func deploymentCondition(ctx context.Context, cs kubernetes.Interface, ns, name string, typ appsv1.DeploymentConditionType, status corev1.ConditionStatus, reason string) error {
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, c := range d.Status.Conditions {
		if c.Type == typ {
			if c.Status == status && (reason == "" || c.Reason == reason) {
				return nil
			}
			return fmt.Errorf("deployment %s: %s=%s (%s: %s)", name, c.Type, c.Status, c.Reason, c.Message)
		}
	}
	return fmt.Errorf("deployment %s has no %s condition yet", name, typ)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
