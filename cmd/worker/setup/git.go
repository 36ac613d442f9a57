package setup

import (
	"fmt"
	"os"
	"strconv"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/github"
	"github.com/alexpermiakov/idp/activities/git/gitremote"
	"github.com/alexpermiakov/idp/internal/config"
)

// GitOptionsFromEnv reads the worker's settings for the platform repository from its
// environment, the one place they come from:
//
//   - IDP_GIT_TOKEN, else GITHUB_TOKEN: the access token (https remotes, the GitHub API)
//   - IDP_GITHUB_API_URL: the GitHub API's base URL, for GitHub Enterprise
//   - IDP_GITHUB_APP_ID, IDP_GITHUB_APP_PRIVATE_KEY_FILE, IDP_GITHUB_APP_INSTALLATION_ID: a
//     GitHub App to act as instead of the token
//   - IDP_GIT_AUTHOR_NAME, IDP_GIT_AUTHOR_EMAIL: who commits
//
// The App is read only when IDP_GITHUB_APP_ID is set, and then must be complete; its errors
// wrap git.ErrAuth and never quote the key.
func GitOptionsFromEnv() (git.Options, error) {
	opts := git.Options{
		Token:  gitToken(),
		APIURL: os.Getenv("IDP_GITHUB_API_URL"),
		Author: git.Author{Name: os.Getenv("IDP_GIT_AUTHOR_NAME"), Email: os.Getenv("IDP_GIT_AUTHOR_EMAIL")},
	}
	appID := os.Getenv("IDP_GITHUB_APP_ID")
	if appID == "" {
		return opts, nil
	}
	keyFile, inst := os.Getenv("IDP_GITHUB_APP_PRIVATE_KEY_FILE"), os.Getenv("IDP_GITHUB_APP_INSTALLATION_ID")
	if keyFile == "" || inst == "" {
		return git.Options{}, fmt.Errorf("%w: IDP_GITHUB_APP_ID needs IDP_GITHUB_APP_PRIVATE_KEY_FILE and IDP_GITHUB_APP_INSTALLATION_ID", git.ErrAuth)
	}
	id, err := strconv.ParseInt(appID, 10, 64)
	if err != nil || id <= 0 {
		return git.Options{}, fmt.Errorf("%w: IDP_GITHUB_APP_ID must be a number", git.ErrAuth)
	}
	instID, err := strconv.ParseInt(inst, 10, 64)
	if err != nil || instID <= 0 {
		return git.Options{}, fmt.Errorf("%w: IDP_GITHUB_APP_INSTALLATION_ID must be a number", git.ErrAuth)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return git.Options{}, fmt.Errorf("%w: reading the GitHub App private key (IDP_GITHUB_APP_PRIVATE_KEY_FILE): %w", git.ErrAuth, err)
	}
	opts.App = git.GitHubApp{ID: id, PrivateKey: key, InstallationID: instID}
	return opts, nil
}

// NewGitProvider builds the provider repo.Provider names: "git" or "" (plain pushes to
// repo.URL) or "github" (the GitHub API on repo.GitHub, else the repository repo.URL names).
func NewGitProvider(repo config.Repository, opts git.Options) (git.Provider, error) {
	switch repo.Provider {
	case "git", "":
		return gitremote.New(repo.URL, opts)
	case "github":
		if opts.Token == "" && opts.App.ID == 0 {
			// Say which variables would do, which the provider cannot know.
			return nil, fmt.Errorf("%w: no GitHub credentials in the worker's environment: set IDP_GIT_TOKEN or GITHUB_TOKEN, "+
				"or IDP_GITHUB_APP_ID, IDP_GITHUB_APP_PRIVATE_KEY_FILE and IDP_GITHUB_APP_INSTALLATION_ID", git.ErrAuth)
		}
		slug := repo.GitHub
		if slug == "" {
			slug = repo.URL
		}
		return github.New(slug, opts)
	default:
		return nil, fmt.Errorf("unknown git provider %q (want \"git\" or \"github\")", repo.Provider)
	}
}

// gitProvider is the platform repository's provider with the worker's settings. One that
// cannot be built is replaced by a provider failing every call with the cause: the worker
// still starts and serves bootstraps, and a promotion fails at once with what to fix.
func gitProvider(repo config.Repository) git.Provider {
	opts, err := GitOptionsFromEnv()
	if err == nil {
		var p git.Provider
		if p, err = NewGitProvider(repo, opts); err == nil {
			return p
		}
	}
	return git.Unavailable(fmt.Errorf("repository in idp.yaml: %w", err))
}
