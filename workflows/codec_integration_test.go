package workflows

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/cli"
	"github.com/alexpermiakov/idp/internal/codec"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/temporalx"
	"github.com/alexpermiakov/idp/workflows/api"
)

// The plaintext of the probe run: none of it may appear in its history.
const (
	probeService = "time-service-7f3a"
	probeTag     = "v9.8.7-probe"
	probeResult  = "Healthy-at-probe-commit"
	codecToken   = "alice-codec-token-0123456789"
)

type probeInput struct{ Service, Tag string }

func probeWorkflow(ctx workflow.Context, in probeInput) (string, error) {
	workflow.SetCurrentDetails(ctx, "deploying "+in.Service+" "+in.Tag)
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
		Summary: "deploy " + in.Service})
	var out string
	err := workflow.ExecuteActivity(ctx, probeActivity, in).Get(ctx, &out)
	return out, err
}

func probeActivity(_ context.Context, in probeInput) (string, error) {
	return in.Service + " " + in.Tag + " " + probeResult, nil
}

// TestEncryptedHistoriesOnADevServer runs a probe workflow and the real BootstrapEnvironment
// with the codec configured the way worker and starter read it (the environment, through
// temporalx), reads their raw histories with a client that has no key, and finds only
// ciphertext; then `starter codec-server`, started after a key rotation, decodes those
// payloads for a token holder, refuses others, answers the Web UI's preflight, and lets
// Temporal's own CLI show the history in plaintext; the Web UI is told where it is.
func TestEncryptedHistoriesOnADevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Temporal dev server; not part of -short")
	}
	codecAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	uiPort := freePort(t)
	uiOrigin := "http://127.0.0.1:" + strconv.Itoa(uiPort)
	raw, hostPort := startDevServer(t, "--ui-port", strconv.Itoa(uiPort), "--ui-codec-endpoint", "http://"+codecAddr)
	keys, tokens := encryptionEnv(t, hostPort)

	ec := encryptedClient(t)
	w := worker.New(ec, api.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(probeWorkflow, workflow.RegisterOptions{Name: "codecProbe"})
	w.RegisterActivity(probeActivity)
	w.RegisterWorkflowWithOptions(BootstrapEnvironment, workflowOptions(api.BootstrapWorkflowName))
	w.RegisterActivity(&platform.Activities{Config: &config.Config{}})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	ctx := context.Background()
	run, err := ec.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "codec-probe", TaskQueue: api.TaskQueue,
		StaticSummary: "probe " + probeService}, "codecProbe", probeInput{probeService, probeTag})
	require.NoError(t, err)
	var result string
	require.NoError(t, run.Get(ctx, &result), "the worker decrypts what the starter encrypted")
	require.Equal(t, probeService+" "+probeTag+" "+probeResult, result)

	// The real bootstrap fails at Describe (the worker's idp.yaml has no env): its failure
	// message is sealed in history, and still reaches the starter in plaintext.
	boot, err := ec.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: api.BootstrapID("qa"), TaskQueue: api.TaskQueue},
		api.BootstrapWorkflowName, api.BootstrapInput{Env: "qa", Requester: "ci-requester-5b1e"})
	require.NoError(t, err)
	err = boot.Get(ctx, nil)
	require.True(t, fail.Is(err, fail.Config), "%v", err)
	require.Contains(t, fail.Message(err), `unknown environment "qa"`)

	probe := sealedHistory(t, raw, "codec-probe", probeService, probeTag, probeResult)
	sealedHistory(t, raw, api.BootstrapID("qa"), "unknown environment", "ci-requester-5b1e")

	// Rotation: the codec server starts with the next key encrypting; the old one decrypts.
	t.Setenv(codec.EnvKeyID, keys[1])
	serveCodecServer(t, codecAddr, uiOrigin, tokens)
	endpoint := "http://" + codecAddr
	decoded := postDecode(t, endpoint+"/default/decode", uiOrigin, "Bearer "+codecToken, probe, http.StatusOK)
	for _, plain := range []string{probeService, probeTag, probeResult} {
		require.Contains(t, decoded, plain)
	}
	postDecode(t, endpoint+"/decode", uiOrigin, "", probe, http.StatusUnauthorized)
	postDecode(t, endpoint+"/decode", uiOrigin, "Bearer not-a-token-anyone-holds", probe, http.StatusForbidden)
	preflight(t, endpoint+"/decode", uiOrigin)

	// temporal's JSON shows payloads as protobuf JSON: metadata and data in base64.
	plainResult := base64.StdEncoding.EncodeToString([]byte(`"` + result + `"`))
	sealedEncoding := base64.StdEncoding.EncodeToString([]byte(codec.Encoding))
	shown := temporalShow(t, hostPort, "--codec-endpoint", endpoint, "--codec-auth", "Bearer "+codecToken)
	require.Contains(t, shown, plainResult, "temporal workflow show decodes through the codec server")
	require.NotContains(t, shown, sealedEncoding)
	shown = temporalShow(t, hostPort)
	require.NotContains(t, shown, plainResult, "without the codec server it shows ciphertext")
	require.Contains(t, shown, sealedEncoding)

	var settings struct{ Codec struct{ Endpoint string } }
	getJSON(t, uiOrigin+"/api/v1/settings", &settings)
	require.Equal(t, endpoint, settings.Codec.Endpoint, "the Web UI decodes through the codec server")
}

// encryptionEnv configures the codec for this process as an operator would for worker and
// starter: a keyring file of two keys, the first encrypting. It returns the keys' IDs and a
// codec server tokens file.
func encryptionEnv(t *testing.T, hostPort string) (ids []string, tokens string) {
	dir := t.TempDir()
	var lines []string
	ids = []string{"2024-11", "2025-05"}
	for _, id := range ids {
		key := make([]byte, codec.KeySize)
		_, err := rand.Read(key)
		require.NoError(t, err)
		lines = append(lines, id+" "+base64.StdEncoding.EncodeToString(key))
	}
	keyring := filepath.Join(dir, "keys")
	require.NoError(t, os.WriteFile(keyring, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	tokens = filepath.Join(dir, "tokens")
	require.NoError(t, os.WriteFile(tokens, []byte("alice "+codecToken+"\n"), 0o600))
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(dir, "absent.toml"))
	t.Setenv("TEMPORAL_ADDRESS", hostPort)
	t.Setenv("TEMPORAL_NAMESPACE", "default")
	t.Setenv(codec.EnvKeys, keyring)
	t.Setenv(codec.EnvKeyID, ids[0])
	return ids, tokens
}

func encryptedClient(t *testing.T) client.Client {
	t.Helper()
	quiet := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	opts, err := temporalx.Options(quiet)
	require.NoError(t, err)
	require.NotNil(t, opts.DataConverter, "the keyring in the environment turns the codec on")
	c, err := client.Dial(opts)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// sealedHistory reads a run's raw history with a client that has no key and checks that every
// payload outside the search attributes is sealed and that none of plain appears anywhere in
// the rest of it. It returns the sealed payloads.
func sealedHistory(t *testing.T, raw client.Client, id string, plain ...string) []*commonpb.Payload {
	t.Helper()
	it := raw.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	history := &historypb.History{}
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		history.Events = append(history.Events, e)
	}
	var payloads []*commonpb.Payload
	outsideSearchAttributes(history.ProtoReflect(), &payloads)
	require.NotEmpty(t, payloads)
	for _, p := range payloads {
		require.Equal(t, codec.Encoding, string(p.Metadata[converter.MetadataEncoding]), "%s: a payload in plaintext: %v", id, p)
		require.Equal(t, "2024-11", string(p.Metadata[codec.MetadataKeyID]))
	}
	b, err := proto.Marshal(history)
	require.NoError(t, err)
	for _, s := range plain {
		require.False(t, bytes.Contains(b, []byte(s)), "%s: %q is readable in the history", id, s)
	}
	return payloads
}

// outsideSearchAttributes collects the payloads of m and clears its search attributes, which
// a codec never sees: idp puts nothing secret there.
func outsideSearchAttributes(m protoreflect.Message, out *[]*commonpb.Payload) {
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		*out = append(*out, p)
		return
	}
	var clear []protoreflect.FieldDescriptor
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Message() != nil && fd.Message().FullName() == "temporal.api.common.v1.SearchAttributes":
			clear = append(clear, fd)
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				outsideSearchAttributes(v.List().Get(i).Message(), out)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				outsideSearchAttributes(mv.Message(), out)
				return true
			})
		case fd.Message() != nil && !fd.IsMap():
			outsideSearchAttributes(v.Message(), out)
		}
		return true
	})
	for _, fd := range clear {
		m.Clear(fd)
	}
}

// serveCodecServer runs `starter codec-server` in this process until the test ends.
func serveCodecServer(t *testing.T, addr, origin, tokens string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var logs bytes.Buffer
	go func() {
		done <- cli.Main(ctx, []string{"codec-server", "--addr", addr, "--cors-origin", origin,
			"--tokens", tokens}, io.Discard, &logs)
	}()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool {
		resp, err := http.Post("http://"+addr+"/decode", "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusUnauthorized
	}, 10*time.Second, 50*time.Millisecond, "codec server on %s: %s", addr, &logs)
}

// postDecode sends payloads to a codec endpoint as the Web UI does and returns the answer.
func postDecode(t *testing.T, url, origin, auth string, payloads []*commonpb.Payload, status int) string {
	t.Helper()
	body, err := json.Marshal(&commonpb.Payloads{Payloads: payloads})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	req.Header.Set("Origin", origin)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, status, resp.StatusCode, string(b))
	require.Equal(t, origin, resp.Header.Get("Access-Control-Allow-Origin"))
	if status != http.StatusOK {
		return ""
	}
	var out commonpb.Payloads
	require.NoError(t, json.Unmarshal(b, &out))
	require.Len(t, out.Payloads, len(payloads))
	var text strings.Builder
	for _, p := range out.Payloads {
		require.NotEqual(t, codec.Encoding, string(p.Metadata[converter.MetadataEncoding]))
		text.Write(p.Data)
	}
	return text.String()
}

func preflight(t *testing.T, url, origin string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodOptions, url, nil)
	require.NoError(t, err)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-namespace")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, origin, resp.Header.Get("Access-Control-Allow-Origin"))
	for _, h := range []string{"Authorization", "Content-Type", "X-Namespace"} {
		require.Contains(t, resp.Header.Get("Access-Control-Allow-Headers"), h)
	}
}

// temporalShow is `temporal workflow show` of the probe run, with extra flags.
func temporalShow(t *testing.T, hostPort string, extra ...string) string {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join("..", "bin", "temporal"))
	require.NoError(t, err)
	args := append([]string{"workflow", "show", "--workflow-id", "codec-probe", "--address", hostPort, "-o", "json"}, extra...)
	out, err := exec.Command(bin, args...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return string(out)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	require.NoError(t, json.Unmarshal(b, v), string(b))
}
