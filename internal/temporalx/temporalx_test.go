package temporalx

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// env is an environment for load; it always names a config file, so the test never reads
// the user's own temporal.toml.
type env map[string]string

func (e env) Environ() []string {
	var out []string
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}

func (e env) LookupEnv(k string) (string, bool) { v, ok := e[k]; return v, ok }

func newEnv(t *testing.T, kv ...string) env {
	e := env{"TEMPORAL_CONFIG_FILE": filepath.Join(t.TempDir(), "absent.toml")}
	for i := 0; i < len(kv); i += 2 {
		e[kv[i]] = kv[i+1]
	}
	return e
}

// certFiles writes a self-signed certificate and its key, PEM, and returns their paths.
func certFiles(t *testing.T) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp-worker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(k)
	require.NoError(t, err)
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	require.NoError(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return cert, key
}

func TestDefaultsToALocalDevServer(t *testing.T) {
	opts, err := load(newEnv(t), nil)
	require.NoError(t, err)
	require.Equal(t, "localhost:7233", opts.HostPort)
	require.Equal(t, "default", opts.Namespace)
	require.Nil(t, opts.Credentials)
	require.Nil(t, opts.ConnectionOptions.TLS)
}

func TestEnvironmentToClientOptions(t *testing.T) {
	opts, err := load(newEnv(t, "TEMPORAL_ADDRESS", "idp.abcde.tmprl.cloud:7233", "TEMPORAL_NAMESPACE", "idp.abcde",
		"TEMPORAL_API_KEY", "secret-api-key"), nil)
	require.NoError(t, err)
	require.Equal(t, "idp.abcde.tmprl.cloud:7233", opts.HostPort)
	require.Equal(t, "idp.abcde", opts.Namespace)
	require.NotNil(t, opts.Credentials, "an API key becomes credentials")
	require.NotNil(t, opts.ConnectionOptions.TLS, "an API key turns TLS on")

	cert, key := certFiles(t)
	opts, err = load(newEnv(t, "TEMPORAL_TLS_CLIENT_CERT_PATH", cert, "TEMPORAL_TLS_CLIENT_KEY_PATH", key,
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH", cert, "TEMPORAL_TLS_SERVER_NAME", "temporal.internal"), nil)
	require.NoError(t, err)
	require.Nil(t, opts.Credentials)
	tls := opts.ConnectionOptions.TLS
	require.NotNil(t, tls)
	require.Len(t, tls.Certificates, 1, "mTLS client certificate")
	require.NotNil(t, tls.RootCAs, "server CA")
	require.Equal(t, "temporal.internal", tls.ServerName)
}

func TestProfileFromTheConfigFileAndTheEnvironmentOverIt(t *testing.T) {
	file := filepath.Join(t.TempDir(), "temporal.toml")
	require.NoError(t, os.WriteFile(file, []byte("[profile.prod]\naddress = \"prod.example.com:7233\"\nnamespace = \"idp\"\n"), 0o600))
	opts, err := load(env{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "prod"}, nil)
	require.NoError(t, err)
	require.Equal(t, "prod.example.com:7233", opts.HostPort)
	require.Equal(t, "idp", opts.Namespace)
	opts, err = load(env{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "prod", "TEMPORAL_NAMESPACE": "other"}, nil)
	require.NoError(t, err)
	require.Equal(t, "other", opts.Namespace)
	_, err = load(env{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "staging"}, nil)
	require.ErrorContains(t, err, `profile "staging" (TEMPORAL_PROFILE)`)
}

func TestBadTLSSettingsNameTheirVariable(t *testing.T) {
	cert, key := certFiles(t)
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"TEMPORAL_TLS_CLIENT_CERT_PATH", missing, "TEMPORAL_TLS_CLIENT_KEY_PATH", key}, "TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read " + missing},
		{[]string{"TEMPORAL_TLS_CLIENT_CERT_PATH", cert, "TEMPORAL_TLS_CLIENT_KEY_PATH", missing}, "TEMPORAL_TLS_CLIENT_KEY_PATH: cannot read"},
		{[]string{"TEMPORAL_TLS_CLIENT_CERT_PATH", cert}, "TEMPORAL_TLS_CLIENT_CERT_PATH is set but TEMPORAL_TLS_CLIENT_KEY_PATH is not"},
		{[]string{"TEMPORAL_TLS_CLIENT_CERT_PATH", cert, "TEMPORAL_TLS_CLIENT_KEY_PATH", cert}, "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH: not a PEM certificate and its private key"},
		{[]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH", missing}, "TEMPORAL_TLS_SERVER_CA_CERT_PATH: cannot read"},
		{[]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH", key}, "TEMPORAL_TLS_SERVER_CA_CERT_PATH: " + key + " holds no PEM certificate"},
		{[]string{"TEMPORAL_TLS_CLIENT_CERT_DATA", "not pem", "TEMPORAL_TLS_CLIENT_KEY_DATA", "not pem"}, "invalid Temporal client configuration (TEMPORAL_TLS_*"},
	} {
		e := newEnv(t, append(tc.env, "TEMPORAL_API_KEY", "secret-api-key")...)
		_, err := load(e, nil)
		require.ErrorContains(t, err, tc.want)
		require.NotContains(t, err.Error(), "secret-api-key", "the API key is never shown")
	}

	file := filepath.Join(t.TempDir(), "temporal.toml")
	require.NoError(t, os.WriteFile(file, []byte("[profile.default.tls]\nserver_ca_cert_path = \""+missing+"\"\n"), 0o600))
	_, err := load(env{"TEMPORAL_CONFIG_FILE": file}, nil)
	require.ErrorContains(t, err, `tls.server_ca_cert_path of profile "default" in `+file+": cannot read")
}

func TestPayloadEncryptionFromTheEnvironment(t *testing.T) {
	opts, err := load(newEnv(t), nil)
	require.NoError(t, err)
	require.Nil(t, opts.DataConverter, "off unless a key is configured")

	key := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes
	opts, err = load(newEnv(t, "IDP_CODEC_KEY_k1", key), nil)
	require.NoError(t, err)
	require.NotNil(t, opts.DataConverter)
	require.NotNil(t, opts.FailureConverter)
	p, err := opts.DataConverter.ToPayload("time-service")
	require.NoError(t, err)
	require.Equal(t, "binary/encrypted", string(p.Metadata["encoding"]))
	require.Equal(t, "k1", string(p.Metadata["encryption-key-id"]))

	_, err = load(newEnv(t, "IDP_CODEC_KEY_k1", "c2hvcnQ="), nil)
	require.ErrorContains(t, err, `payload encryption: IDP_CODEC_KEY_k1: key "k1" is 5 bytes after base64 decoding`)
}
