package github

import (
	"context"
	"crypto/rsa"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v62/github"

	"github.com/alexpermiakov/idp/activities/git"
)

// tokenTransport adds a bearer token to every request.
type tokenTransport struct {
	base       http.RoundTripper
	token      func(context.Context) (string, error)
	invalidate func() // drops a cached token the server refused
}

func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.token(req.Context())
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+tok)
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusUnauthorized && t.invalidate != nil {
		t.invalidate()
	}
	return resp, err
}

// appTokenSource mints GitHub App installation tokens: a short-lived JWT signed with the
// App's private key buys an installation token, which is cached until shortly before it
// expires.
type appTokenSource struct {
	appID        string
	installation int64
	key          *rsa.PrivateKey
	api          *url.URL
	hc           *http.Client
	now          func() time.Time

	mu      sync.Mutex
	cached  string
	expires time.Time
}

func newAppTokenSource(app git.GitHubApp, api string) (*appTokenSource, error) {
	if len(app.PrivateKey) == 0 || app.InstallationID == 0 {
		return nil, fmt.Errorf("%w: a GitHub App needs its private key and installation ID", git.ErrAuth)
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM(app.PrivateKey)
	if err != nil {
		// The parse error never quotes the key, but keep it short anyway.
		return nil, fmt.Errorf("%w: the GitHub App private key is not an RSA private key in PEM form", git.ErrAuth)
	}
	base, err := apiBaseURL(api)
	if err != nil {
		return nil, err
	}
	return &appTokenSource{appID: strconv.FormatInt(app.ID, 10), installation: app.InstallationID, key: key, api: base,
		hc: &http.Client{Timeout: time.Minute}, now: time.Now}, nil
}

func (a *appTokenSource) token(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if a.cached != "" && now.Before(a.expires.Add(-2*time.Minute)) {
		return a.cached, nil
	}
	// GitHub allows at most 10 minutes and recommends back-dating iat for clock drift.
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		Issuer:    a.appID,
		IssuedAt:  jwt.NewNumericDate(now.Add(-time.Minute)),
		ExpiresAt: jwt.NewNumericDate(now.Add(9 * time.Minute)),
	}).SignedString(a.key)
	if err != nil {
		return "", fmt.Errorf("signing the GitHub App JWT: %w", err)
	}
	c := github.NewClient(a.hc).WithAuthToken(signed)
	c.BaseURL = a.api
	it, _, err := c.Apps.CreateInstallationToken(ctx, a.installation, nil)
	if err != nil {
		switch status(err) {
		case http.StatusUnauthorized, http.StatusForbidden:
			return "", fmt.Errorf("%w: GitHub refused the App's JWT (check the App ID and private key): %w", git.ErrAuth, err)
		case http.StatusNotFound:
			return "", fmt.Errorf("%w: GitHub App installation %d: %w", git.ErrNotFound, a.installation, err)
		}
		return "", fmt.Errorf("getting a GitHub App installation token: %w", err)
	}
	a.cached, a.expires = it.GetToken(), it.GetExpiresAt().Time
	if a.expires.IsZero() {
		a.expires = now.Add(time.Hour)
	}
	return a.cached, nil
}

func (a *appTokenSource) invalidate() {
	a.mu.Lock()
	a.cached = ""
	a.mu.Unlock()
}
