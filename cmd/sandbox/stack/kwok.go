package stack

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// kwokAssets are the Stage CRD, the stages and kwok's configuration (see kwok/README.md).
//
//go:embed kwok/*.yaml
var kwokAssets embed.FS

// kwokStages are installed in every cluster before kwok starts: the node's start and lease
// heartbeat, and pods that become Ready at once, complete (Jobs) and go when deleted.
var kwokStages = []string{"node-initialize.yaml", "node-heartbeat-with-lease.yaml", "pod-ready.yaml", "pod-complete.yaml", "pod-delete.yaml"}

// brokenCondition marks a pod a pod-broken stage has claimed; pod-ready leaves such pods alone.
const brokenCondition = "idp.sandbox/BrokenImage"

// brokenSuffixAnnotation records on a pod-broken stage which image suffix it declares broken.
const brokenSuffixAnnotation = "idp.sandbox/image-suffix"

// fieldManager owns what the sandbox applies server-side.
const fieldManager = "idp-sandbox"

var (
	crdGVR   = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	stageGVR = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "stages"}
)

// kwokNodeName is the fake node of an environment's cluster.
func kwokNodeName(env string) string { return "kwok-" + env }

// readAsset decodes the one object of an embedded YAML file (numbers as int64, as the API
// machinery expects them).
func readAsset(name string) (*unstructured.Unstructured, error) {
	b, err := kwokAssets.ReadFile("kwok/" + name)
	if err != nil {
		return nil, err
	}
	docs := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("kwok/%s holds no object", name)
		}
		if err != nil {
			return nil, fmt.Errorf("reading kwok/%s: %w", name, err)
		}
		j, err := utilyaml.ToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("decoding kwok/%s: %w", name, err)
		}
		// A document of comments only (the license header before "---") is null.
		if string(bytes.TrimSpace(j)) == "null" {
			continue
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(j); err != nil {
			return nil, fmt.Errorf("decoding kwok/%s: %w", name, err)
		}
		return obj, nil
	}
}

// apply creates or updates obj by server-side apply, so a rerun converges.
func apply(ctx context.Context, dc dynamic.Interface, gvr schema.GroupVersionResource, obj *unstructured.Unstructured) error {
	_, err := dc.Resource(gvr).Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	if err != nil {
		return fmt.Errorf("applying %s %s: %w", obj.GetKind(), obj.GetName(), err)
	}
	return nil
}

// startKwok installs kwok's stages in env's cluster and starts kwok, which plays the cluster's
// node, against kubeconfig.
func (k *kubePlane) startKwok(ctx context.Context, dir, env, kubeconfig string, dc dynamic.Interface, cs kubernetes.Interface, bin string) (*proc, error) {
	if err := installKwokStages(ctx, dc, cs, env); err != nil {
		return nil, err
	}
	envDir := filepath.Join(dir, "kube", env)
	kwokConfig := filepath.Join(envDir, "kwok.yaml")
	b, err := kwokAssets.ReadFile("kwok/kwok.yaml")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(kwokConfig, b, 0o644); err != nil {
		return nil, err
	}
	// kwok also loads ~/.kwok/kwok.yaml when it exists: its own HOME keeps a user's out.
	return k.start(dir, env, "kwok", []string{"HOME=" + envDir}, bin,
		"--kubeconfig="+kubeconfig,
		"--config="+kwokConfig,
	)
}

// installKwokStages installs the Stage CRD and the stages kwok plays, and the fake node they
// act on. kwok reads stages from the cluster, so they must be there before it starts.
func installKwokStages(ctx context.Context, dc dynamic.Interface, cs kubernetes.Interface, env string) error {
	crd, err := readAsset("stage-crd.yaml")
	if err != nil {
		return err
	}
	if err := apply(ctx, dc, crdGVR, crd); err != nil {
		return err
	}
	if err := waitFor(ctx, "Stage CRD established", nil, 30*time.Second, func(ctx context.Context) error {
		got, err := dc.Resource(crdGVR).Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				return nil
			}
		}
		return errors.New("not established yet")
	}); err != nil {
		return err
	}
	for _, name := range kwokStages {
		stage, err := readAsset(name)
		if err != nil {
			return err
		}
		// Right after Established, the new resource can still answer 404 for a moment.
		if err := waitFor(ctx, "stage "+stage.GetName(), nil, 15*time.Second, func(ctx context.Context) error {
			return apply(ctx, dc, stageGVR, stage)
		}); err != nil {
			return err
		}
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: kwokNodeName(env),
			// kwok.yaml makes kwok manage the nodes annotated so.
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{
				"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", "kubernetes.io/hostname": kwokNodeName(env),
				"type": "kwok", "node.kubernetes.io/instance-type": "kwok", "topology.kubernetes.io/region": "us-west-2",
			},
		},
	}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating node %s: %w", node.Name, err)
	}
	return nil
}

// nodeReady reports whether the node is Ready and schedulable: the node lifecycle controller
// taints a node that was not Ready when it first saw it, and lifts the taint only later.
func nodeReady(ctx context.Context, cs kubernetes.Interface, name string) error {
	n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	if !ready {
		return fmt.Errorf("node %s not Ready yet", name)
	}
	for _, t := range n.Spec.Taints {
		if t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable {
			return fmt.Errorf("node %s still tainted %s", name, t.Key)
		}
	}
	return nil
}

// brokenStageName names the pod-broken stage of an image suffix; names must be DNS subdomains,
// image references are not.
func brokenStageName(imageSuffix string) string {
	sum := sha256.Sum256([]byte(imageSuffix))
	return "pod-broken-" + hex.EncodeToString(sum[:6])
}

// brokenStage is the pod-broken stage for pods with a container whose image ends with imageSuffix.
func brokenStage(imageSuffix string) (*unstructured.Unstructured, error) {
	stage, err := readAsset("pod-broken.yaml")
	if err != nil {
		return nil, err
	}
	stage.SetName(brokenStageName(imageSuffix))
	stage.SetAnnotations(map[string]string{brokenSuffixAnnotation: imageSuffix})
	// A JSON string is a valid jq string literal, whatever the suffix holds.
	lit, err := json.Marshal(imageSuffix)
	if err != nil {
		return nil, err
	}
	exprs, _, err := unstructured.NestedSlice(stage.Object, "spec", "selector", "matchExpressions")
	if err != nil {
		return nil, fmt.Errorf("kwok/pod-broken.yaml: %w", err)
	}
	exprs = append(exprs, map[string]any{
		"key":      fmt.Sprintf(".spec.containers.[].image | endswith(%s)", lit),
		"operator": "In",
		"values":   []any{"true"},
	})
	if err := unstructured.SetNestedSlice(stage.Object, exprs, "spec", "selector", "matchExpressions"); err != nil {
		return nil, err
	}
	return stage, nil
}

// markBroken declares, in the cluster kubeconfig points at, that images ending with
// imageSuffix (e.g. "/idp/localtime:v1.2.4") are broken: their pods run but never become
// Ready, so a Deployment rolling them out exceeds its progress deadline while the pods of its
// previous ReplicaSet stay Ready. It returns once kwok treats a new pod of such an image so.
// Pods that exist already keep their state.
func markBroken(ctx context.Context, kubeconfig, imageSuffix string) error {
	if imageSuffix == "" {
		return errors.New("marking an image broken: empty image suffix")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("reading %s: %w", kubeconfig, err)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	stage, err := brokenStage(imageSuffix)
	if err != nil {
		return err
	}
	if err := apply(ctx, dc, stageGVR, stage); err != nil {
		return fmt.Errorf("marking %q broken: %w", imageSuffix, err)
	}
	// kwok picks stages up through a watch: nothing says when it has. A probe pod of the image
	// shows it; one that turned Ready was seen before the stage and is replaced.
	return waitFor(ctx, fmt.Sprintf("kwok to treat %q as broken", imageSuffix), nil, 30*time.Second, func(ctx context.Context) error {
		return probeBroken(ctx, cs, imageSuffix)
	})
}

// probeBroken runs a pod of an image ending with imageSuffix in kube-system and reports
// whether kwok claimed it as broken. It deletes the probe either way.
func probeBroken(ctx context.Context, cs kubernetes.Interface, imageSuffix string) error {
	pods := cs.CoreV1().Pods(metav1.NamespaceSystem)
	probe, err := pods.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "broken-image-probe-", Labels: map[string]string{"app.kubernetes.io/managed-by": fieldManager}},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{{Name: "probe", Image: "probe.sandbox.invalid/probe" + imageSuffix}},
			AutomountServiceAccountToken:  new(false),
			TerminationGracePeriodSeconds: new(int64(0)),
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating probe pod: %w", err)
	}
	defer func() {
		// A fresh context: the probe must go even when ctx is what ended the wait.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = pods.Delete(dctx, probe.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))})
	}()
	var verdict error
	err = waitFor(ctx, "probe pod "+probe.Name, nil, 20*time.Second, func(ctx context.Context) error {
		p, err := pods.Get(ctx, probe.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range p.Status.Conditions {
			switch {
			case c.Type == brokenCondition && c.Status == corev1.ConditionTrue:
				return nil
			case c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue:
				verdict = fmt.Errorf("probe pod %s became Ready: kwok had not seen the stage yet", probe.Name)
				return nil
			}
		}
		return fmt.Errorf("probe pod %s is %s", probe.Name, p.Status.Phase)
	})
	return errors.Join(err, verdict)
}
