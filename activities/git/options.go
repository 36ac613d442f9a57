package git

import "fmt"

// Options are the worker's settings for reaching the platform repository. The worker fills
// them (cmd/worker/setup reads its environment) and hands them to a provider's constructor;
// nothing under activities/git reads the environment, so credentials have one way in and are
// never part of a workflow's input or output.
type Options struct {
	// Token is an access token: the password for https remotes, the bearer token for the
	// GitHub API. Providers keep it out of their error messages.
	Token string
	// APIURL is the GitHub API's base URL, for GitHub Enterprise (https://HOST/api/v3/) or a
	// test server; empty means https://api.github.com/.
	APIURL string
	// App, when its ID is set, makes the GitHub provider authenticate as a GitHub App
	// installation instead of with Token.
	App GitHubApp
	// Author is who commits; see Author.WithDefaults.
	Author Author
}

// String shows the options without their secrets, so that logging them leaks nothing.
func (o Options) String() string {
	return fmt.Sprintf("{Token:%s APIURL:%s App:{ID:%d InstallationID:%d PrivateKey:%s} Author:%s <%s>}",
		hidden(o.Token != ""), o.APIURL, o.App.ID, o.App.InstallationID, hidden(len(o.App.PrivateKey) > 0),
		o.Author.Name, o.Author.Email)
}

// GoString is String, for %#v.
func (o Options) GoString() string { return "git.Options" + o.String() }

func hidden(set bool) string {
	if set {
		return "***"
	}
	return `""`
}

// GitHubApp is a GitHub App installation the GitHub provider acts as: a short-lived JWT
// signed with PrivateKey buys installation tokens, which beats a long-lived personal token.
type GitHubApp struct {
	// ID is the App's numeric ID; 0 means no App.
	ID int64
	// PrivateKey is the App's RSA private key in PEM form.
	PrivateKey []byte
	// InstallationID is the App's installation on the repository's owner.
	InstallationID int64
}

// Author is the name and email recorded on idp's commits.
type Author struct {
	Name  string
	Email string
}

// DefaultAuthor signs commits when no author is configured.
var DefaultAuthor = Author{Name: "idp", Email: "idp@localhost"}

// WithDefaults fills each empty part of a from DefaultAuthor.
func (a Author) WithDefaults() Author {
	if a.Name == "" {
		a.Name = DefaultAuthor.Name
	}
	if a.Email == "" {
		a.Email = DefaultAuthor.Email
	}
	return a
}
