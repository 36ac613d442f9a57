package stacktest

import (
	"bufio"
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Requests is what a kube-apiserver has served of one verb of one resource so far.
type Requests struct {
	Verb     string `json:"verb"`
	Resource string `json:"resource"` // with its subresource: "deployments/status"
	Count    int    `json:"count"`
	// Seconds is the requests' latencies summed (waiting included), not CPU.
	Seconds float64 `json:"seconds"`
}

// KubeRequests reads the kube-apiserver's request counters (apiserver_request_total and
// apiserver_request_duration_seconds, from its /metrics) through kubeconfig, by
// "VERB resource[/subresource]".
func KubeRequests(t testing.TB, kubeconfig string) map[string]Requests {
	t.Helper()
	kc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("reading %s: %v", kubeconfig, err)
	}
	kube, err := kubernetes.NewForConfig(kc)
	if err != nil {
		t.Fatalf("a client for %s: %v", kubeconfig, err)
	}
	b, err := kube.RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("reading the kube-apiserver's metrics: %v", err)
	}
	out := map[string]Requests{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		total := strings.HasPrefix(l, "apiserver_request_total{")
		if !total && !strings.HasPrefix(l, "apiserver_request_duration_seconds_sum{") {
			continue
		}
		v, err := strconv.ParseFloat(l[strings.LastIndex(l, " ")+1:], 64)
		if err != nil || v == 0 {
			continue
		}
		verb, res, sub := label(l, "verb"), label(l, "resource"), label(l, "subresource")
		if res == "" {
			continue
		}
		if sub != "" {
			res += "/" + sub
		}
		k := out[verb+" "+res]
		k.Verb, k.Resource = verb, res
		if total {
			k.Count += int(v)
		} else {
			k.Seconds += v
		}
		out[verb+" "+res] = k
	}
	return out
}

// label is a metric line's label value ("" when it has none).
func label(line, name string) string {
	_, rest, ok := strings.Cut(line, name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}
