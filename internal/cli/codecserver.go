package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/alexpermiakov/idp/internal/codec"
)

type codecServerOptions struct {
	addr     string
	origins  []string
	tokens   string
	userinfo string
	allow    []string
	noAuth   bool
	tlsCert  string
	tlsKey   string
	// listening is told the address once the server accepts connections; tests set it.
	listening func(addr string)
}

func (o codecServerOptions) validate() error {
	var errs []error
	chosen := 0
	for _, set := range []bool{o.tokens != "", o.userinfo != "", o.noAuth} {
		if set {
			chosen++
		}
	}
	switch {
	case chosen == 0:
		errs = append(errs, errors.New("say who may decode: --tokens FILE (NAME TOKEN lines), --userinfo URL --allow EMAIL (the Web UI's OIDC users), or --no-auth (a server only this machine reaches)"))
	case chosen > 1:
		errs = append(errs, errors.New("--tokens, --userinfo and --no-auth exclude each other: choose one"))
	}
	if len(o.allow) > 0 && o.userinfo == "" {
		errs = append(errs, errors.New("--allow lists who --userinfo lets in: add --userinfo URL"))
	}
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		errs = append(errs, fmt.Errorf("--addr %q: want HOST:PORT, e.g. localhost:8081 or :8081", o.addr))
	} else if o.noAuth && !loopback(host) {
		errs = append(errs, fmt.Errorf("--no-auth would serve decrypted payloads to anyone who reaches %s: bind it to localhost (--addr localhost:PORT) or use --tokens / --userinfo", o.addr))
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together: give both or neither"))
	}
	for _, origin := range o.origins {
		u, err := url.Parse(origin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("--cors-origin %q: want the Web UI's origin, scheme://host[:port], e.g. http://localhost:8233", origin))
		}
	}
	return errors.Join(errs...)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// authorizer is the check the flags chose; nil for --no-auth.
func (o codecServerOptions) authorizer() (codec.Authorizer, error) {
	switch {
	case o.tokens != "":
		return codec.LoadTokens(o.tokens)
	case o.userinfo != "":
		return codec.NewUserinfo(o.userinfo, o.allow)
	}
	return nil, nil
}

func newCodecServerCmd(g *globals) *cobra.Command {
	o := codecServerOptions{}
	cmd := &cobra.Command{
		Use:   "codec-server [--addr HOST:PORT] [--cors-origin URL] (--tokens FILE | --userinfo URL --allow EMAIL | --no-auth)",
		Short: "Serve the payload codec over HTTP, so the Web UI and temporal decode encrypted payloads",
		Long: `codec-server serves Temporal's remote codec protocol (POST .../encode and .../decode) with
the keys the worker uses: IDP_CODEC_KEYS (a file of "ID base64key" lines, or a directory of
files named by ID) and IDP_CODEC_KEY_<ID>, encrypting with IDP_CODEC_KEY_ID. Point the Web UI
at it (temporal server start-dev --ui-codec-endpoint URL, or the UI server's
TEMPORAL_CODEC_ENDPOINT) and allow the UI's origin with --cors-origin; Temporal's CLI takes
--codec-endpoint URL --codec-auth "Bearer TOKEN".

Who may decode:
  --tokens FILE      "NAME TOKEN" lines: each person or machine sends Authorization: Bearer TOKEN
  --userinfo URL     the Web UI passes the signed-in user's OIDC access token
                     (TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true); the provider's userinfo endpoint
                     says whose it is, and only --allow EMAIL|SUBJECT may decode
  --no-auth          anyone who reaches the address: only with --addr on localhost
Requests without credentials get 401, others not allowed 403; each request is logged with
who made it, never with a token or a payload.`,
		Example: `  starter codec-server --addr localhost:8081 --cors-origin http://localhost:8233 --no-auth
  starter codec-server --addr :8081 --cors-origin https://temporal.example.com --tokens /etc/idp/codec-tokens
  starter codec-server --addr :8081 --cors-origin https://temporal.example.com \
      --userinfo https://login.example.com/oauth2/userinfo --allow alice@example.com --allow bob@example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return badInput(err)
			}
			return serveCodec(cmd.Context(), g, o)
		},
	}
	cmd.Flags().StringVar(&o.addr, "addr", "localhost:8081", "address to listen on")
	cmd.Flags().StringArrayVar(&o.origins, "cors-origin", nil, "a browser origin allowed to call (the Web UI's), repeatable")
	cmd.Flags().StringVar(&o.tokens, "tokens", "", `file of "NAME TOKEN" lines: the bearer tokens that may decode`)
	cmd.Flags().StringVar(&o.userinfo, "userinfo", "", "OIDC userinfo endpoint that vouches for the Web UI's access tokens")
	cmd.Flags().StringArrayVar(&o.allow, "allow", nil, "email or subject --userinfo lets in, repeatable")
	cmd.Flags().BoolVar(&o.noAuth, "no-auth", false, "let in anyone who reaches --addr (localhost only)")
	cmd.Flags().StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (and --tls-key)")
	cmd.Flags().StringVar(&o.tlsKey, "tls-key", "", "the PEM private key of --tls-cert")
	return cmd
}

// serveCodec runs the codec server until ctx ends (Ctrl-C).
func serveCodec(ctx context.Context, g *globals, o codecServerOptions) error {
	logger := slog.New(slog.NewTextHandler(g.errOut, nil))
	srv, ring, err := o.server(logger)
	if err != nil {
		return badInput(err)
	}
	l, err := net.Listen("tcp", o.addr)
	if err != nil {
		return badInput(fmt.Errorf("--addr %s: %w", o.addr, err))
	}
	scheme := "https"
	if srv.TLSConfig == nil {
		scheme = "http"
		if host, _, _ := net.SplitHostPort(o.addr); !loopback(host) {
			logger.Warn("serving plain HTTP beyond this machine: tokens and decoded payloads cross the network in the clear; use --tls-cert/--tls-key or a TLS proxy")
		}
	}
	logger.Info("codec server listening", "url", scheme+"://"+l.Addr().String(), "codec", ring.String(), "origins", o.origins)
	if o.listening != nil {
		o.listening(l.Addr().String())
	}
	done := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			done <- srv.ServeTLS(l, "", "")
			return
		}
		done <- srv.Serve(l)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	}
}

// server builds the HTTP server from the environment's keyring and the flags.
func (o codecServerOptions) server(logger *slog.Logger) (*http.Server, *codec.Keyring, error) {
	ring, err := codec.Load(codec.OSEnv)
	if err != nil {
		return nil, nil, err
	}
	if ring == nil {
		return nil, nil, fmt.Errorf("no payload keys: set %s (or %s<ID>) as for the worker", codec.EnvKeys, codec.EnvKeyPrefix)
	}
	c, err := codec.New(ring)
	if err != nil {
		return nil, nil, err
	}
	auth, err := o.authorizer()
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{
		Handler:           codec.Handler(c, codec.ServerOptions{Origins: o.origins, Auth: auth, Log: logger}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return nil, nil, fmt.Errorf("--tls-cert and --tls-key: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return srv, ring, nil
}
