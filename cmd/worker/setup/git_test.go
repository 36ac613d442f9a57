package setup

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/github"
	"github.com/alexpermiakov/idp/activities/git/gitremote"
	"github.com/alexpermiakov/idp/internal/config"
)

// gitEnv is every variable GitOptionsFromEnv reads.
var gitEnv = []string{"IDP_GIT_TOKEN", "GITHUB_TOKEN", "IDP_GITHUB_API_URL", "IDP_GITHUB_APP_ID",
	"IDP_GITHUB_APP_PRIVATE_KEY_FILE", "IDP_GITHUB_APP_INSTALLATION_ID", "IDP_GIT_AUTHOR_NAME", "IDP_GIT_AUTHOR_EMAIL"}

// setGitEnv gives the test exactly env among the variables GitOptionsFromEnv reads.
func setGitEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, name := range gitEnv {
		t.Setenv(name, env[name])
	}
}

func TestGitOptionsFromEnv(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "app.pem")
	require.NoError(t, os.WriteFile(keyFile, []byte("-----BEGIN RSA PRIVATE KEY-----\n"), 0o600))
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, opts git.Options, err error)
	}{
		{
			name: "nothing set",
			check: func(t *testing.T, opts git.Options, err error) {
				require.NoError(t, err)
				require.Equal(t, git.Options{}, opts)
			},
		},
		{
			name: "IDP_GIT_TOKEN wins over GITHUB_TOKEN; API URL and author as given",
			env: map[string]string{"IDP_GIT_TOKEN": "ghp_idp", "GITHUB_TOKEN": "ghp_gh", "IDP_GITHUB_API_URL": "https://ghe.example/api/v3/",
				"IDP_GIT_AUTHOR_NAME": "Platform Bot", "IDP_GIT_AUTHOR_EMAIL": "bot@example.com"},
			check: func(t *testing.T, opts git.Options, err error) {
				require.NoError(t, err)
				require.Equal(t, git.Options{Token: "ghp_idp", APIURL: "https://ghe.example/api/v3/",
					Author: git.Author{Name: "Platform Bot", Email: "bot@example.com"}}, opts)
			},
		},
		{
			name: "GITHUB_TOKEN alone",
			env:  map[string]string{"GITHUB_TOKEN": "ghp_gh"},
			check: func(t *testing.T, opts git.Options, err error) {
				require.NoError(t, err)
				require.Equal(t, "ghp_gh", opts.Token)
			},
		},
		{
			name: "a GitHub App",
			env:  map[string]string{"IDP_GITHUB_APP_ID": "123", "IDP_GITHUB_APP_PRIVATE_KEY_FILE": keyFile, "IDP_GITHUB_APP_INSTALLATION_ID": "42"},
			check: func(t *testing.T, opts git.Options, err error) {
				require.NoError(t, err)
				require.Equal(t, git.GitHubApp{ID: 123, PrivateKey: []byte("-----BEGIN RSA PRIVATE KEY-----\n"), InstallationID: 42}, opts.App)
			},
		},
		{
			name: "an App without its key file",
			env:  map[string]string{"IDP_GITHUB_APP_ID": "123", "IDP_GITHUB_APP_INSTALLATION_ID": "42"},
			check: func(t *testing.T, _ git.Options, err error) {
				require.ErrorIs(t, err, git.ErrAuth)
				require.ErrorContains(t, err, "IDP_GITHUB_APP_PRIVATE_KEY_FILE")
			},
		},
		{
			name: "an App ID that is not a number",
			env:  map[string]string{"IDP_GITHUB_APP_ID": "my-app", "IDP_GITHUB_APP_PRIVATE_KEY_FILE": keyFile, "IDP_GITHUB_APP_INSTALLATION_ID": "42"},
			check: func(t *testing.T, _ git.Options, err error) {
				require.ErrorIs(t, err, git.ErrAuth)
				require.ErrorContains(t, err, "IDP_GITHUB_APP_ID must be a number")
			},
		},
		{
			name: "an installation ID that is not a number",
			env:  map[string]string{"IDP_GITHUB_APP_ID": "123", "IDP_GITHUB_APP_PRIVATE_KEY_FILE": keyFile, "IDP_GITHUB_APP_INSTALLATION_ID": "x"},
			check: func(t *testing.T, _ git.Options, err error) {
				require.ErrorIs(t, err, git.ErrAuth)
				require.ErrorContains(t, err, "IDP_GITHUB_APP_INSTALLATION_ID must be a number")
			},
		},
		{
			name: "an unreadable key file",
			env: map[string]string{"IDP_GITHUB_APP_ID": "123", "IDP_GITHUB_APP_INSTALLATION_ID": "42",
				"IDP_GITHUB_APP_PRIVATE_KEY_FILE": filepath.Join(t.TempDir(), "missing.pem")},
			check: func(t *testing.T, _ git.Options, err error) {
				require.ErrorIs(t, err, git.ErrAuth)
				require.ErrorIs(t, err, os.ErrNotExist)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setGitEnv(t, tc.env)
			opts, err := GitOptionsFromEnv()
			tc.check(t, opts, err)
		})
	}
}

func TestNewGitProvider(t *testing.T) {
	t.Parallel()
	repo := func(provider, url, slug string) config.Repository {
		return config.Repository{URL: url, Branch: "main", Provider: provider, GitHub: slug}
	}
	plain, err := gitremote.New("file:///tmp/x.git", git.Options{})
	require.NoError(t, err)
	hub, err := github.New("acme/platform", git.Options{Token: "ghp_testtoken"})
	require.NoError(t, err)

	for _, name := range []string{"git", ""} {
		p, err := NewGitProvider(repo(name, "file:///tmp/x.git", ""), git.Options{})
		require.NoError(t, err)
		require.IsType(t, plain, p)
	}
	_, err = NewGitProvider(repo("git", "", ""), git.Options{})
	require.ErrorContains(t, err, "needs the repository URL")

	_, err = NewGitProvider(repo("github", "https://github.com/acme/platform.git", "acme/platform"), git.Options{})
	require.ErrorIs(t, err, git.ErrAuth, "no credentials")
	require.ErrorContains(t, err, "IDP_GIT_TOKEN", "says what to set")

	p, err := NewGitProvider(repo("github", "https://github.com/acme/platform.git", ""), git.Options{Token: "ghp_testtoken"})
	require.NoError(t, err, "owner/name derived from the URL")
	require.IsType(t, hub, p)

	_, err = NewGitProvider(repo("gitlab", "https://gitlab.com/x/y", ""), git.Options{Token: "t"})
	require.ErrorContains(t, err, "unknown git provider")
}

// A provider that cannot be built leaves the worker running; promotions fail with the cause.
func TestGitProviderUnavailable(t *testing.T) {
	setGitEnv(t, map[string]string{"GITHUB_TOKEN": "ghp_testtoken"})
	p := gitProvider(config.Repository{URL: "https://gitlab.com/x/y", Branch: "main", Provider: "gitlab"})
	_, err := p.Commit(context.Background(), "main", git.Change{Path: "a.yaml", Edit: func(b []byte) ([]byte, error) { return b, nil }})
	require.ErrorContains(t, err, `repository in idp.yaml: unknown git provider "gitlab"`)

	setGitEnv(t, map[string]string{"IDP_GITHUB_APP_ID": "123"})
	p = gitProvider(config.Repository{URL: "https://github.com/acme/platform.git", Branch: "main", Provider: "github"})
	_, err = p.Merge(context.Background(), git.Proposal{Number: 1})
	require.ErrorIs(t, err, git.ErrAuth)
}
