package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/github/githubtest"
	"github.com/alexpermiakov/idp/activities/git/internal/gittest"
)

// provNew is New with fast retries.
func provNew(t *testing.T, repo string, opts git.Options) *provider {
	t.Helper()
	prov, err := New(repo, opts)
	require.NoError(t, err)
	p := prov.(*provider)
	p.retry = gittest.FastRetry
	return p
}

func TestNew(t *testing.T) {
	t.Parallel()
	_, err := New("acme/platform", git.Options{})
	require.ErrorIs(t, err, git.ErrAuth, "no credentials in the options")

	p := provNew(t, "https://github.com/acme/platform.git", git.Options{Token: "ghp_testtoken"})
	require.Equal(t, []string{"acme", "platform"}, []string{p.owner, p.repo}, "owner/name derived from the URL")
	require.Zero(t, p.author, "no author: GitHub records the token's identity")

	p = provNew(t, "acme/platform", git.Options{Token: "ghp_testtoken", Author: git.Author{Name: "Platform Bot"}})
	require.Equal(t, git.Author{Name: "Platform Bot", Email: "idp@localhost"}, p.author)

	_, err = New("https://gitlab.com/acme/platform", git.Options{Token: "ghp_testtoken"})
	require.ErrorContains(t, err, "owner/name")
	_, err = New("acme/platform", git.Options{Token: "ghp_testtoken", APIURL: "ftp://github.test"})
	require.ErrorContains(t, err, "invalid GitHub API URL")
	_, err = New("acme/platform", git.Options{App: git.GitHubApp{ID: 1, InstallationID: 2, PrivateKey: []byte("not a key")}})
	require.ErrorIs(t, err, git.ErrAuth)
	require.ErrorContains(t, err, "not an RSA private key")
	_, err = New("acme/platform", git.Options{App: git.GitHubApp{ID: 1}})
	require.ErrorIs(t, err, git.ErrAuth, "an App without key and installation")
}

func TestAuthErrors(t *testing.T) {
	t.Parallel()
	f := githubtest.New(t, gittest.Seed)
	const leaked = "ghp_this_token_must_never_show_up"
	p := provNew(t, "acme/platform", git.Options{Token: leaked, APIURL: f.URL})

	_, err := p.Commit(context.Background(), "main", git.Change{Path: gittest.ProdApp, Edit: gittest.Image("x"), Message: "m"})
	require.ErrorIs(t, err, git.ErrAuth)
	require.NotContains(t, err.Error(), leaked)
	require.Equal(t, 1, f.Count("GET ref"), "refused credentials are not retried")

	_, err = p.Propose(context.Background(), "main", "idp/h", git.Change{Path: gittest.ProdApp, Edit: gittest.Image("x"), Message: "m"}, "t", "b")
	require.ErrorIs(t, err, git.ErrAuth)
	require.NotContains(t, err.Error(), leaked)

	// With the right token, a repository that does not exist (or that the token cannot see).
	f.Mu.Lock()
	f.Token = leaked
	f.Mu.Unlock()
	other := provNew(t, "acme/missing", git.Options{Token: leaked, APIURL: f.URL})
	_, err = other.Commit(context.Background(), "main", git.Change{Path: gittest.ProdApp, Edit: gittest.Image("x"), Message: "m"})
	require.ErrorIs(t, err, git.ErrNotFound)
	require.NotContains(t, err.Error(), leaked)
}

// An error that quotes the token (a proxy echoing the request, say) has it blanked out.
func TestErrorsHideToken(t *testing.T) {
	t.Parallel()
	f := githubtest.New(t, gittest.Seed)
	const token = "ghs_test_token_0123456789" // the fake's
	f.Intercept = func(w http.ResponseWriter, r *http.Request, _ string) bool {
		githubtest.WriteJSON(w, http.StatusBadRequest, map[string]any{"message": "bad request with " + r.Header.Get("Authorization")})
		return true
	}
	p := provNew(t, "acme/platform", git.Options{Token: token, APIURL: f.URL})
	_, err := p.Commit(context.Background(), "main", git.Change{Path: gittest.ProdApp, Edit: gittest.Image("x"), Message: "m"})
	require.ErrorContains(t, err, "bad request with Bearer ***")
	require.NotContains(t, err.Error(), token)
}

func TestAppAuth(t *testing.T) {
	t.Parallel()
	f := githubtest.New(t, gittest.Seed)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	f.AppID, f.AppKey, f.AppToken, f.Token = "123", &key.PublicKey, "ghs_installation_token", "ghs_installation_token"

	app := git.GitHubApp{ID: 123, PrivateKey: keyPEM, InstallationID: 42}
	prov := provNew(t, "acme/platform", git.Options{APIURL: f.URL + "/", App: app})
	for _, img := range []string{"a", "b"} {
		res, err := prov.Commit(context.Background(), "main", git.Change{Path: gittest.DevApp, Edit: gittest.Image(img), Message: img})
		require.NoError(t, err)
		require.True(t, res.Changed)
	}
	require.Equal(t, 1, f.Count("POST app-token"), "the installation token is cached")

	app.InstallationID = 7
	prov = provNew(t, "acme/platform", git.Options{APIURL: f.URL + "/", App: app})
	_, err = prov.Commit(context.Background(), "main", git.Change{Path: gittest.DevApp, Edit: gittest.Image("c"), Message: "c"})
	require.ErrorIs(t, err, git.ErrAuth)
}

func TestRepoSlug(t *testing.T) {
	t.Parallel()
	for repo, want := range map[string]string{
		"acme/platform":                        "acme/platform",
		"https://github.com/acme/platform.git": "acme/platform",
		"https://github.com/acme/platform":     "acme/platform",
		"git@github.com:acme/platform.git":     "acme/platform",
		"https://gitlab.com/acme/platform":     "",
		"https://github.com/acme":              "",
	} {
		require.Equal(t, want, repoSlug(repo), repo)
	}
}

func TestCommitAuthor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		author git.Author
		want   string
	}{
		{name: "none configured: GitHub records the token's identity", want: ""},
		{name: "configured", author: git.Author{Name: "Platform Bot", Email: "bot@example.com"}, want: "Platform Bot <bot@example.com>"},
		{name: "a missing part gets its default", author: git.Author{Name: "Platform Bot"}, want: "Platform Bot <idp@localhost>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := githubtest.New(t, gittest.Seed)
			p := provNew(t, "acme/platform", git.Options{Token: f.Token, APIURL: f.URL, Author: tc.author})
			_, err := p.Commit(context.Background(), "main", git.Change{Path: gittest.DevApp, Edit: gittest.Image("a"), Message: "m"})
			require.NoError(t, err)
			require.Equal(t, tc.want, f.Head("main").Author)
		})
	}
}
