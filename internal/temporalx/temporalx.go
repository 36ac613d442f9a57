// Package temporalx holds how idp's commands reach Temporal: the way Temporal's own CLI and
// SDKs do (go.temporal.io/sdk/contrib/envconfig), so one configuration serves them all. A
// profile of the TOML config file (TEMPORAL_CONFIG_FILE, else the user's
// temporalio/temporal.toml; profile TEMPORAL_PROFILE, else default) is read first, then the
// environment overrides it: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
// TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH/_DATA, TEMPORAL_TLS_CLIENT_KEY_PATH/_DATA,
// TEMPORAL_TLS_SERVER_CA_CERT_PATH/_DATA, TEMPORAL_TLS_SERVER_NAME,
// TEMPORAL_TLS_DISABLE_HOST_VERIFICATION, TEMPORAL_GRPC_META_*. Without any of it idp talks
// to a local dev server: localhost:7233, namespace default.
//
// Payload encryption is configured here too, so worker and starter always agree: when
// IDP_CODEC_KEYS or an IDP_CODEC_KEY_<ID> is set (see internal/codec), every payload the
// client writes is encrypted and every one it reads is decrypted.
package temporalx

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/log"

	"github.com/alexpermiakov/idp/internal/codec"
)

// Defaults when neither the config file nor the environment names a server or namespace.
const (
	DefaultAddress   = "localhost:7233"
	DefaultNamespace = "default"
)

// Options are the client options of the configured server, with logger (which may be nil).
// An error names the variable or config file setting to fix. Options carry the API key in
// their Credentials: never print or log them; HostPort and Namespace are safe to show.
func Options(logger log.Logger) (client.Options, error) {
	return load(envconfig.EnvLookupOS, logger)
}

func load(env envconfig.EnvLookup, logger log.Logger) (client.Options, error) {
	src := sources{env: env}
	profile, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{EnvLookup: env})
	if err != nil {
		return client.Options{}, fmt.Errorf("reading Temporal client configuration (%s, %s): %w", src.file(), src.profile(), err)
	}
	if profile.Address == "" {
		profile.Address = DefaultAddress
	}
	if profile.Namespace == "" {
		profile.Namespace = DefaultNamespace
	}
	if t := profile.TLS; t != nil && !t.Disabled {
		if err := checkTLS(t, src); err != nil {
			return client.Options{}, err
		}
	}
	opts, err := profile.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		return client.Options{}, fmt.Errorf("invalid Temporal client configuration (TEMPORAL_TLS_*, or %s of %s): %w", src.profile(), src.file(), err)
	}
	opts.Logger = logger
	if err := encrypt(&opts, env, logger); err != nil {
		return client.Options{}, err
	}
	return opts, nil
}

// encrypt puts the payload codec of the configured keyring, if any, on opts.
func encrypt(opts *client.Options, env envconfig.EnvLookup, logger log.Logger) error {
	ring, err := codec.Load(env)
	if err != nil {
		return fmt.Errorf("payload encryption: %w", err)
	}
	if ring == nil {
		return nil
	}
	c, err := codec.New(ring)
	if err != nil {
		return fmt.Errorf("payload encryption: %w", err)
	}
	opts.DataConverter = c.DataConverter()
	opts.FailureConverter = c.FailureConverter()
	if logger != nil {
		logger.Info("payloads are encrypted", "codec", ring.String())
	}
	return nil
}

// checkTLS reads the TLS files a profile names, so that a missing or wrong one is reported
// with the variable (or config file setting) that names it, rather than as a failed dial.
func checkTLS(t *envconfig.ClientConfigTLS, src sources) error {
	cert := src.name("TEMPORAL_TLS_CLIENT_CERT_PATH", "client_cert_path", t.ClientCertPath)
	key := src.name("TEMPORAL_TLS_CLIENT_KEY_PATH", "client_key_path", t.ClientKeyPath)
	ca := src.name("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "server_ca_cert_path", t.ServerCACertPath)
	for _, f := range []struct{ name, path string }{{cert, t.ClientCertPath}, {key, t.ClientKeyPath}, {ca, t.ServerCACertPath}} {
		if f.path == "" {
			continue
		}
		if _, err := os.ReadFile(f.path); err != nil {
			return fmt.Errorf("%s: cannot read %s: %w", f.name, f.path, err)
		}
	}
	switch {
	case t.ClientCertPath != "" && t.ClientKeyPath == "" && len(t.ClientKeyData) == 0:
		return fmt.Errorf("%s is set but %s is not: mTLS needs the client certificate and its key", cert, key)
	case t.ClientKeyPath != "" && t.ClientCertPath == "" && len(t.ClientCertData) == 0:
		return fmt.Errorf("%s is set but %s is not: mTLS needs the client certificate and its key", key, cert)
	case t.ClientCertPath != "" && t.ClientKeyPath != "":
		if _, err := tls.LoadX509KeyPair(t.ClientCertPath, t.ClientKeyPath); err != nil {
			return fmt.Errorf("%s and %s: not a PEM certificate and its private key: %w", cert, key, err)
		}
	}
	if t.ServerCACertPath != "" {
		b, _ := os.ReadFile(t.ServerCACertPath)
		if !x509.NewCertPool().AppendCertsFromPEM(b) {
			return fmt.Errorf("%s: %s holds no PEM certificate", ca, t.ServerCACertPath)
		}
	}
	return nil
}

// sources names where a setting came from: its environment variable when that is set to the
// value in use (or when the setting is missing: the variable is what to set), else the
// config file's setting.
type sources struct{ env envconfig.EnvLookup }

func (s sources) name(variable, field, value string) string {
	if v, ok := s.env.LookupEnv(variable); value == "" || ok && v == value {
		return variable
	}
	return fmt.Sprintf("tls.%s of %s in %s", field, s.profile(), s.file())
}

func (s sources) file() string {
	if f, ok := s.env.LookupEnv("TEMPORAL_CONFIG_FILE"); ok && f != "" {
		return f
	}
	if f := envconfig.DefaultConfigFilePath(); f != "" {
		return f
	}
	return "no config file"
}

func (s sources) profile() string {
	if p, ok := s.env.LookupEnv("TEMPORAL_PROFILE"); ok && p != "" {
		return fmt.Sprintf("profile %q (TEMPORAL_PROFILE)", p)
	}
	return fmt.Sprintf("profile %q", envconfig.DefaultConfigFileProfile)
}
