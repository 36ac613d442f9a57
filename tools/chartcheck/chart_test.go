package chartcheck

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/cli/values"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// checkWorker asserts what must hold for every set of values: the selectors pick the pods,
// the pods run restricted with writable scratch space only where the worker writes, the
// probes reach the worker's health endpoint, idp.yaml is where IDP_CONFIG says, and every
// object carries the chart's labels.
func checkWorker(t *testing.T, r *Rendered) {
	d := deployment(t, r)
	pod := d.Spec.Template
	require.True(t, selects(d.Spec.Selector.MatchLabels, pod.Labels), "the Deployment's selector does not pick its pods")
	for _, o := range r.Objects {
		l := o.GetLabels()
		require.Equal(t, "idp-worker", l["app.kubernetes.io/name"], "%s %s", o.GetKind(), o.GetName())
		require.Equal(t, release, l["app.kubernetes.io/instance"], "%s %s", o.GetKind(), o.GetName())
		require.Equal(t, "Helm", l["app.kubernetes.io/managed-by"], "%s %s", o.GetKind(), o.GetName())
	}

	c := worker(t, d)
	vars := env(t, c)
	ps := pod.Spec.SecurityContext
	require.NotNil(t, ps)
	require.True(t, *ps.RunAsNonRoot)
	require.NotZero(t, *ps.RunAsUser, "runs as root")
	require.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, ps.SeccompProfile.Type)
	cs := c.SecurityContext
	require.NotNil(t, cs)
	require.True(t, *cs.ReadOnlyRootFilesystem)
	require.False(t, *cs.AllowPrivilegeEscalation)
	require.False(t, *cs.Privileged)
	require.Equal(t, []corev1.Capability{"ALL"}, cs.Capabilities.Drop)
	require.Empty(t, cs.Capabilities.Add)
	require.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, cs.SeccompProfile.Type)
	require.False(t, *pod.Spec.AutomountServiceAccountToken, "the worker needs no token for the cluster it runs in")

	// The root filesystem is read-only: $HOME (checkouts, terraform working directories) and
	// /tmp must be emptyDirs.
	for _, dir := range []string{literal(t, vars, "HOME"), "/tmp", literal(t, vars, "TMPDIR")} {
		var vol string
		for _, m := range c.VolumeMounts {
			if m.MountPath == dir {
				require.False(t, m.ReadOnly, "%s is mounted read-only", dir)
				vol = m.Name
			}
		}
		require.NotEmpty(t, vol, "nothing writable is mounted at %s", dir)
		for _, v := range pod.Spec.Volumes {
			if v.Name == vol {
				require.NotNil(t, v.EmptyDir, "%s is not an emptyDir", dir)
			}
		}
	}

	// Probes: the worker's own endpoints, on the port IDP_HEALTH_ADDR makes it listen on.
	health := literal(t, vars, "IDP_HEALTH_ADDR")
	var healthPort int32
	for _, p := range c.Ports {
		if p.Name == "health" {
			healthPort = p.ContainerPort
		}
	}
	require.Equal(t, fmt.Sprintf(":%d", healthPort), health)
	for probe, want := range map[*corev1.Probe]string{c.StartupProbe: "/healthz", c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
		require.NotNil(t, probe)
		require.Equal(t, want, probe.HTTPGet.Path)
		require.Equal(t, "health", probe.HTTPGet.Port.String())
	}

	// IDP_CONFIG names a file the idp.yaml ConfigMap provides.
	vol, key := fileSource(t, pod.Spec, c, literal(t, vars, "IDP_CONFIG"))
	require.NotNil(t, vol.ConfigMap)
	if cm := r.Find("ConfigMap", vol.ConfigMap.Name); cm != nil {
		require.Contains(t, nestedMap(t, cm, "data"), key)
	}

	if sa := pod.Spec.ServiceAccountName; r.Find("ServiceAccount", sa) == nil {
		t.Logf("service account %s is not rendered (serviceAccount.create false)", sa)
	}
	checkMetrics(t, r, pod, c, vars)
}

// checkMetrics asserts the metrics Service and ServiceMonitor reach the port IDP_METRICS_ADDR
// opens, when metrics are on, and that nothing of them is there when they are off.
func checkMetrics(t *testing.T, r *Rendered, pod corev1.PodTemplateSpec, c corev1.Container, vars map[string]corev1.EnvVar) {
	svc := r.Find("Service", fullname+"-metrics")
	if _, on := vars["IDP_METRICS_ADDR"]; !on {
		require.Nil(t, svc)
		require.Nil(t, r.Find("ServiceMonitor", fullname))
		return
	}
	var port int32
	for _, p := range c.Ports {
		if p.Name == "metrics" {
			port = p.ContainerPort
		}
	}
	require.Equal(t, fmt.Sprintf(":%d", port), literal(t, vars, "IDP_METRICS_ADDR"))
	s := typed[corev1.Service](t, svc)
	require.True(t, selects(s.Spec.Selector, pod.Labels), "the metrics Service does not select the workers")
	require.Len(t, s.Spec.Ports, 1)
	require.Equal(t, "metrics", s.Spec.Ports[0].TargetPort.String())

	sm := r.Find("ServiceMonitor", fullname)
	if sm == nil {
		return
	}
	require.Equal(t, "monitoring.coreos.com/v1", sm.GetAPIVersion())
	require.True(t, selects(nestedMap(t, sm, "spec", "selector", "matchLabels"), s.Labels), "the ServiceMonitor does not select the metrics Service")
	names, _, err := unstructured.NestedStringSlice(sm.Object, "spec", "namespaceSelector", "matchNames")
	require.NoError(t, err)
	require.Equal(t, []string{namespace}, names)
	endpoints, _, err := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	require.NoError(t, err)
	require.Len(t, endpoints, 1)
	ep := endpoints[0].(map[string]any)
	require.Equal(t, s.Spec.Ports[0].Name, ep["port"], "the ServiceMonitor scrapes a port the Service does not have")
	require.Equal(t, "/metrics", ep["path"])
}

func TestMinimalValues(t *testing.T) {
	t.Parallel()
	r := render(t, minimalValues())
	require.Equal(t, []string{"ConfigMap", "Deployment", "Service", "ServiceAccount"}, r.Kinds())
	checkWorker(t, r)

	chrt, err := loader.Load(chartDir)
	require.NoError(t, err)
	d := deployment(t, r)
	c := worker(t, d)
	require.Equal(t, "864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/worker:"+chrt.Metadata.AppVersion, c.Image,
		"image.tag defaults to the chart's appVersion")
	require.EqualValues(t, 1, *d.Spec.Replicas)
	require.Equal(t, "512Mi", c.Resources.Requests.Memory().String())

	vars := env(t, c)
	require.Equal(t, "temporal-frontend.temporal.svc.cluster.local:7233", literal(t, vars, "TEMPORAL_ADDRESS"))
	require.Equal(t, "default", literal(t, vars, "TEMPORAL_NAMESPACE"))
	require.Equal(t, "/etc/idp/idp.yaml", literal(t, vars, "IDP_CONFIG"), "the path the image's IDP_CONFIG names too")
	require.Equal(t, ":9090", literal(t, vars, "IDP_METRICS_ADDR"))
	for _, name := range []string{"TEMPORAL_TLS", "TEMPORAL_API_KEY", "IDP_GIT_TOKEN", "IDP_GITHUB_APP_ID"} {
		require.NotContains(t, vars, name)
	}

	// idp.yaml reaches the ConfigMap byte for byte, and its hash rolls the pods when it changes.
	want, err := os.ReadFile("../../idp.yaml")
	require.NoError(t, err)
	cm := r.Find("ConfigMap", fullname+"-config")
	require.Equal(t, string(want), nestedMap(t, cm, "data")["idp.yaml"])
	sum := sha256.Sum256(want)
	require.Equal(t, hex.EncodeToString(sum[:]), d.Spec.Template.Annotations["checksum/idp-config"])

	sa := r.Find("ServiceAccount", fullname)
	require.NotNil(t, sa)
	require.Empty(t, sa.GetAnnotations())
	require.Equal(t, fullname, d.Spec.Template.Spec.ServiceAccountName)

	require.Contains(t, r.Notes, "kubectl -n idp-system rollout status deployment/"+fullname)
	require.Contains(t, r.Notes, "aws eks create-pod-identity-association")
	require.Contains(t, r.Notes, "No Git credentials are set")
}

func TestFullValues(t *testing.T) {
	t.Parallel()
	r := render(t, fullValues())
	require.Equal(t, []string{"ConfigMap", "Deployment", "PodDisruptionBudget", "Service", "Service", "ServiceAccount", "ServiceMonitor"}, r.Kinds())
	checkWorker(t, r)
	d := deployment(t, r)
	spec := d.Spec.Template.Spec
	c := worker(t, d)
	vars := env(t, c)
	checkEvents(t, r, c, vars)

	require.Equal(t, "864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/worker:v1.4.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", c.Image)
	require.Equal(t, corev1.PullAlways, c.ImagePullPolicy)
	require.EqualValues(t, 3, *d.Spec.Replicas)
	require.Equal(t, "v1.4.2", d.Labels["app.kubernetes.io/version"])

	// Temporal: mTLS files from the Secret, the API key by reference only.
	require.Equal(t, "true", literal(t, vars, "TEMPORAL_TLS"))
	require.Equal(t, "idp-prod.a1b2c.tmprl.cloud", literal(t, vars, "TEMPORAL_TLS_SERVER_NAME"))
	require.Equal(t, "idp-prod.a1b2c", literal(t, vars, "TEMPORAL_NAMESPACE"))
	for name, key := range map[string]string{
		"TEMPORAL_TLS_CLIENT_CERT_PATH":    "tls.crt",
		"TEMPORAL_TLS_CLIENT_KEY_PATH":     "tls.key",
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": "ca.crt",
	} {
		vol, got := fileSource(t, spec, c, literal(t, vars, name))
		require.NotNil(t, vol.Secret, name)
		require.Equal(t, "temporal-client-tls", vol.Secret.SecretName, name)
		require.Equal(t, key, got, name)
		require.EqualValues(t, 0o440, *vol.Secret.DefaultMode, name)
	}
	requireSecretRef(t, vars, "TEMPORAL_API_KEY", "temporal-api-key", "key")

	// Git: the token by reference, the App's key as a file.
	requireSecretRef(t, vars, "IDP_GIT_TOKEN", "idp-git", "github-token")
	require.Equal(t, "123456", literal(t, vars, "IDP_GITHUB_APP_ID"))
	require.Equal(t, "7654321", literal(t, vars, "IDP_GITHUB_APP_INSTALLATION_ID"), "a YAML number written as an integer")
	vol, key := fileSource(t, spec, c, literal(t, vars, "IDP_GITHUB_APP_PRIVATE_KEY_FILE"))
	require.Equal(t, "idp-github-app", vol.Secret.SecretName)
	require.Equal(t, "key.pem", key)
	require.Equal(t, "https://github.example.com/api/v3", literal(t, vars, "IDP_GITHUB_API_URL"))
	require.Equal(t, "idp bot", literal(t, vars, "IDP_GIT_AUTHOR_NAME"))

	// IRSA on the service account the pods use.
	require.Equal(t, "idp-worker-sa", spec.ServiceAccountName)
	sa := r.Find("ServiceAccount", "idp-worker-sa")
	require.NotNil(t, sa)
	require.Equal(t, map[string]string{
		"eks.amazonaws.com/role-arn": "arn:aws:iam::111111111111:role/idp-worker",
		"example.com/owner":          "platform-team",
	}, sa.GetAnnotations())
	require.Contains(t, r.Notes, "IRSA: service account idp-worker-sa is annotated with role arn:aws:iam::111111111111:role/idp-worker")

	// extraEnv comes after the chart's variables, as given.
	n := len(c.Env)
	require.Equal(t, []string{"HTTPS_PROXY", "AWS_REGION", "POD_NAME"}, []string{c.Env[n-3].Name, c.Env[n-2].Name, c.Env[n-1].Name})
	require.Equal(t, "metadata.name", vars["POD_NAME"].ValueFrom.FieldRef.FieldPath)
	require.Equal(t, "idp-proxy-settings", c.EnvFrom[0].ConfigMapRef.Name)
	require.Contains(t, mounts(c), "/etc/ssl/corporate")

	// Scheduling and the rest, passed through.
	require.Equal(t, map[string]string{"kubernetes.io/os": "linux"}, spec.NodeSelector)
	require.Equal(t, "dedicated", spec.Tolerations[0].Key)
	require.NotNil(t, spec.Affinity.PodAntiAffinity)
	require.Len(t, spec.TopologySpreadConstraints, 1)
	require.Equal(t, "platform-critical", spec.PriorityClassName)
	require.EqualValues(t, 300, *spec.TerminationGracePeriodSeconds)
	require.Equal(t, "ecr-pull", spec.ImagePullSecrets[0].Name)
	require.Equal(t, "platform", d.Spec.Template.Annotations["example.com/team"])
	require.Equal(t, "control-plane", d.Spec.Template.Labels["example.com/tier"])
	require.Equal(t, "4Gi", c.Resources.Limits.Memory().String())

	pdb := typed[policyv1.PodDisruptionBudget](t, r.Find("PodDisruptionBudget", fullname))
	require.Equal(t, "2", pdb.Spec.MinAvailable.String())
	require.Nil(t, pdb.Spec.MaxUnavailable)
	require.True(t, selects(pdb.Spec.Selector.MatchLabels, d.Spec.Template.Labels), "the PodDisruptionBudget does not select the workers")

	sm := r.Find("ServiceMonitor", fullname)
	require.Equal(t, "kube-prometheus-stack", sm.GetLabels()["release"])
	endpoints, _, err := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	require.NoError(t, err)
	ep := endpoints[0].(map[string]any)
	require.Equal(t, "15s", ep["interval"])
	require.Equal(t, true, ep["honorLabels"])
	require.Len(t, ep["relabelings"], 1)
	require.Len(t, ep["metricRelabelings"], 1)
}

// TestExistingConfigMap: idp.yaml from a ConfigMap the chart does not own.
func TestExistingConfigMap(t *testing.T) {
	t.Parallel()
	r := render(t, values.Options{
		ValueFiles: []string{"testdata/minimal-values.yaml"},
		Values:     []string{"config.existingConfigMap=platform-idp", "config.key=config.yaml"},
	})
	require.Equal(t, []string{"Deployment", "Service", "ServiceAccount"}, r.Kinds())
	checkWorker(t, r)
	d := deployment(t, r)
	vol, key := fileSource(t, d.Spec.Template.Spec, worker(t, d), "/etc/idp/idp.yaml")
	require.Equal(t, "platform-idp", vol.ConfigMap.Name)
	require.Equal(t, "config.yaml", key)
	require.NotContains(t, d.Spec.Template.Annotations, "checksum/idp-config")
	require.Contains(t, r.Notes, "rollout restart deployment/"+fullname)
}

// checkEvents asserts the ECR push endpoint is on: its port, its address, its secret from the
// Secret (never a literal), and a Service that reaches it.
func checkEvents(t *testing.T, r *Rendered, c corev1.Container, vars map[string]corev1.EnvVar) {
	t.Helper()
	require.Equal(t, ":8082", literal(t, vars, "IDP_EVENTS_ADDR"))
	requireSecretRef(t, vars, "IDP_EVENTS_SECRET", "idp-events", "events-secret")
	var port int32
	for _, p := range c.Ports {
		if p.Name == "events" {
			port = p.ContainerPort
		}
	}
	require.EqualValues(t, 8082, port)
	o := r.Find("Service", fullname+"-events")
	require.NotNil(t, o, "no events Service among %v", r.Kinds())
	svc := typed[corev1.Service](t, o)
	require.True(t, selects(svc.Spec.Selector, deployment(t, r).Spec.Template.Labels), "the events Service does not select the workers")
	require.Equal(t, "events", svc.Spec.Ports[0].TargetPort.String())
	require.Equal(t, "ingress", svc.Annotations["example.com/exposed-by"])
}

// TestMetricsOff: no metrics port, Service or variable.
func TestMetricsOff(t *testing.T) {
	t.Parallel()
	r := render(t, minimalValues("metrics.enabled=false"))
	require.Equal(t, []string{"ConfigMap", "Deployment", "ServiceAccount"}, r.Kinds())
	checkWorker(t, r)
	for _, p := range worker(t, deployment(t, r)).Ports {
		require.NotEqual(t, "metrics", p.Name)
	}
}

func requireSecretRef(t *testing.T, vars map[string]corev1.EnvVar, name, secret, key string) {
	t.Helper()
	v, ok := vars[name]
	require.True(t, ok, "%s is not set", name)
	require.Empty(t, v.Value, "%s has a literal value", name)
	require.NotNil(t, v.ValueFrom.SecretKeyRef, "%s is not from a Secret", name)
	require.Equal(t, secret, v.ValueFrom.SecretKeyRef.Name, name)
	require.Equal(t, key, v.ValueFrom.SecretKeyRef.Key, name)
}

// mounts maps the container's mount paths to their volumes.
func mounts(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, m := range c.VolumeMounts {
		out[m.MountPath] = m.Name
	}
	return out
}

func TestLint(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string]func(...string) values.Options{"minimal": minimalValues, "full": fullValues} {
		require.NoError(t, Lint(chartDir, namespace, opts()), "helm lint --strict with %s values", name)
	}
	// The linter checks the values against the schema too, and Lint reports what it finds.
	err := Lint(chartDir, namespace, minimalValues("replicaCount=two"))
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "at '/replicaCount': got string, want integer"), err.Error())
}

// TestTLSWithSystemRoots: mTLS from a `kubectl create secret tls` Secret, which has no CA:
// only the certificate and key are mounted and named, and the server is checked against the
// system's roots.
func TestTLSWithSystemRoots(t *testing.T) {
	t.Parallel()
	r := render(t, minimalValues("temporal.tls.enabled=true", "temporal.tls.existingSecret=temporal-client"))
	checkWorker(t, r)
	d := deployment(t, r)
	c := worker(t, d)
	vars := env(t, c)
	require.Equal(t, "true", literal(t, vars, "TEMPORAL_TLS"))
	require.NotContains(t, vars, "TEMPORAL_TLS_SERVER_CA_CERT_PATH")
	require.NotContains(t, vars, "TEMPORAL_TLS_SERVER_NAME")
	for name, key := range map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": "tls.crt", "TEMPORAL_TLS_CLIENT_KEY_PATH": "tls.key"} {
		vol, got := fileSource(t, d.Spec.Template.Spec, c, literal(t, vars, name))
		require.Equal(t, "temporal-client", vol.Secret.SecretName)
		require.Equal(t, key, got)
		require.Len(t, vol.Secret.Items, 2, "a key the Secret lacks would keep the pod from starting")
	}
}
