//go:build faults

package faults

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/alexpermiakov/idp/cmd/sandbox/stack"
	"github.com/alexpermiakov/idp/workflows/api"
)

// secretMarkers are fake secrets, each a string found nowhere else.
var secretMarkers = map[string]string{
	"Git token (IDP_GIT_TOKEN)":               "SECRET-GITTOKEN-7f3a",
	"GitHub token (GITHUB_TOKEN)":             "SECRET-GHTOKEN-2b9e",
	"GitHub App private key":                  "SECRET-GHAPPKEY-91cd",
	"AWS secret key (AWS_SECRET_ACCESS_KEY)":  "SECRET-AWSKEY-4e6b",
	"AWS session token (AWS_SESSION_TOKEN)":   "SECRET-AWSSESSION-c3f0",
	"webhook URL (notify urlFrom env:)":       "SECRET-WEBHOOK-d05f",
	"Argo CD admin password (initial Secret)": "SECRET-ARGOPW-38aa",
}

// TestSecretsStayOut: a worker and starter holding recognizable fake secrets (Git token,
// GitHub token, GitHub App key, AWS secret key and session token, a notify webhook URL, and
// an Argo CD admin password in the prod cluster) run a full bootstrap of prod and a prod
// promotion (proposal branch, four-eyes approval signed by bob, merge, Argo CD health). Must
// hold after: no marker in any workflow history (`temporal workflow show -o json`, payloads
// decoded), in any `starter status -o json`, in the worker's and the stack's logs, or in the
// platform repository's history; the webhook was called (its URL was used, not leaked). Prod
// takes hotfix tags directly (prodOnly), so no staging bootstrap and soak come first. The
// recovery time is the whole run's.
func TestSecretsStayOut(t *testing.T) {
	begin := time.Now()
	r := up(t, stack.Options{})
	p := prodOnly(t, r) // before the notify edit, which rewrites idp.yaml's layout
	var hooks atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.Contains(req.URL.Path, secretMarkers["webhook URL (notify urlFrom env:)"]) {
			hooks.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(hook.Close)
	editConfig(t, r.S.Config, r.S.Config, func(m map[string]any) {
		env(m, "prod")["notify"] = []any{map[string]any{"name": "chat", "format": "json", "urlFrom": "env:IDP_TEST_WEBHOOK"}}
	})
	keyFile := filepath.Join(t.TempDir(), "github-app.pem")
	require.NoError(t, os.WriteFile(keyFile, []byte("-----BEGIN RSA PRIVATE KEY-----\n"+
		secretMarkers["GitHub App private key"]+strings.Repeat("A", 44)+"\n-----END RSA PRIVATE KEY-----\n"), 0o600))
	argoAdminSecret(t, r.S.Kubeconfigs["prod"], secretMarkers["Argo CD admin password (initial Secret)"])
	secretEnv := []string{
		"IDP_GIT_TOKEN=" + secretMarkers["Git token (IDP_GIT_TOKEN)"],
		"GITHUB_TOKEN=" + secretMarkers["GitHub token (GITHUB_TOKEN)"],
		"IDP_GITHUB_APP_ID=4242", "IDP_GITHUB_APP_INSTALLATION_ID=99", "IDP_GITHUB_APP_PRIVATE_KEY_FILE=" + keyFile,
		"AWS_ACCESS_KEY_ID=AKIAFAKEFORFAULTS", "AWS_SECRET_ACCESS_KEY=" + secretMarkers["AWS secret key (AWS_SECRET_ACCESS_KEY)"],
		"AWS_SESSION_TOKEN=" + secretMarkers["AWS session token (AWS_SESSION_TOKEN)"],
		"IDP_TEST_WEBHOOK=" + hook.URL + "/hooks/" + secretMarkers["webhook URL (notify urlFrom env:)"],
	}
	r.Env = append(r.Env, secretEnv...)
	r.StartWorker(secretEnv...)

	code, out := r.Starter("bootstrap", "--env", "prod", "--as", "alice", "--wait")
	require.Equal(t, 0, code, out)
	id := p.promote(t, "time-service", "hotfix-1")
	p.AwaitStatus(id, 2*time.Minute, stageIs(api.StageWaitingApproval))
	code, out = r.Starter("approve", id, "--as", "bob")
	require.Equal(t, 0, code, out)
	st := p.AwaitStatus(id, 5*time.Minute, stageIs(api.StageDone, api.StageFailed))
	require.Equal(t, api.StageDone, st.Stage, st.Error)
	require.Eventually(t, func() bool { return hooks.Load() > 0 }, 30*time.Second, 500*time.Millisecond,
		"the webhook was never called: the test would prove nothing about its URL")

	sources := r.exportEverything(t)
	for what, marker := range secretMarkers {
		for name, text := range sources {
			if i := strings.Index(text, marker); i >= 0 {
				t.Errorf("the %s leaked into %s: …%s…", what, name, text[max(0, i-120):min(len(text), i+len(marker)+40)])
			}
		}
	}
	t.Logf("searched %d exports for %d markers", len(sources), len(secretMarkers))
	Recovered(t, "secrets: bootstrap and promotion with fake secrets, all exports searched", time.Since(begin))
}

// exportEverything returns every place a secret could end up, by name: each workflow's
// history (payloads decoded) and status, every log of the stack and its workers, and the
// platform repository's history.
func (r *rig) exportEverything(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	runs := r.workflowRuns(t)
	ids := map[string]bool{}
	keys := make([]string, 0, len(runs))
	for k := range runs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var histories int
	for _, k := range keys {
		id, run, _ := strings.Cut(k, "/")
		ids[id] = true
		cmd := exec.Command(filepath.Join("..", "bin", "temporal"), "workflow", "show", "-w", id, "-r", run,
			"--address", r.S.TemporalAddress(), "--namespace", "default", "-o", "json")
		b, err := cmd.Output()
		require.NoError(t, err, "temporal workflow show %s", k)
		out["history of "+k] = withDecoded(t, b)
		histories++
	}
	var statuses int
	for id := range ids {
		if code, st := r.Starter("status", id, "-o", "json"); code == 0 {
			out["status of "+id] = st
			statuses++
		}
	}
	require.True(t, ids["bootstrap-prod"] && ids["promote-time-service-hotfix-1"], "runs: %v", keys)
	logs, err := filepath.Glob(filepath.Join(r.S.Dir(), "logs", "*"))
	require.NoError(t, err)
	var workerLogs int
	for _, l := range logs {
		b, err := os.ReadFile(l)
		require.NoError(t, err)
		out["log "+filepath.Base(l)] = string(b)
		if strings.HasPrefix(filepath.Base(l), "worker-") {
			workerLogs++
		}
	}
	require.Positive(t, workerLogs, "no worker log in %s", filepath.Join(r.S.Dir(), "logs"))
	out["git log -p --all"] = gitRun(t, "", "--git-dir", strings.TrimPrefix(r.S.RepoURL, "file://"), "log", "-p", "--all")
	t.Logf("exported %d histories, %d statuses, %d logs", histories, statuses, len(logs))
	return out
}

// withDecoded is the JSON text followed by every string in it that is base64 (payloads),
// decoded, so a secret inside an encoded payload is found too.
func withDecoded(t *testing.T, b []byte) string {
	t.Helper()
	var doc any
	require.NoError(t, json.Unmarshal(b, &doc), "%.300s", b)
	var sb strings.Builder
	sb.Write(b)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case string:
			if d, err := base64.StdEncoding.DecodeString(v); err == nil && len(d) > 0 {
				sb.WriteString("\n")
				sb.Write(d)
			}
		}
	}
	walk(doc)
	return sb.String()
}

// argoAdminSecret puts an Argo CD admin password where Argo CD keeps its generated one
// (argocd-initial-admin-secret), as a real cluster has it: idp must never copy it anywhere.
func argoAdminSecret(t *testing.T, kubeconfig, password string) {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	require.NoError(t, err)
	c, err := kubernetes.NewForConfig(rc)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argocd"}}, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
	_, err = c.CoreV1().Secrets("argocd").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "argocd-initial-admin-secret", Namespace: "argocd"},
		StringData: map[string]string{"password": password},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
}
