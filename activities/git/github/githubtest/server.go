// Package githubtest is a fake GitHub for tests: the REST endpoints idp's GitHub provider uses
// (refs, commits, contents, compare, pull requests, their merge and reviews, deployments and
// App installation tokens), served by an httptest server over a repository held in memory.
//
// Commits are full snapshots of the files; branches point at commits. Tests see and change
// the repository through the exported fields while holding Mu, and make GitHub misbehave in
// two ways: Inject queues faulty answers for a route (5xx, a secondary rate limit, an answer
// lost after GitHub did what was asked), and Intercept may answer any request itself.
//
// It is used by the provider's own tests and by the fault tests (package faults).
package githubtest

import (
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Default names of the fake repository and the token it accepts; New uses them.
const (
	Owner = "acme"
	Repo  = "platform"
	Token = "ghs_test_token_0123456789"
)

// Server is the fake GitHub. Its routes are named "<METHOD> <what>", e.g. "PUT contents",
// "GET pull", "PUT merge", "POST app-token"; Count, CallTimes, Inject and Intercept use
// those names.
type Server struct {
	// URL is the base URL of the API, without a trailing slash.
	URL         string
	Owner, Repo string

	t   testing.TB
	srv *httptest.Server

	// Mu guards everything below; the handlers hold it while they run.
	Mu sync.Mutex
	// Token is the bearer token the API accepts.
	Token    string
	Commits  map[string]*Commit
	Branches map[string]string
	Pulls    []*Pull
	// Calls counts the requests by route, the refused and the faulty ones included.
	Calls map[string]int
	// Strict refuses merges of a branch that does not contain its base (branch protection's
	// "require branches to be up to date").
	Strict bool
	// RefUpdates records every PATCH of a ref; MergeSHAs the sha of every merge request.
	RefUpdates []RefUpdate
	MergeSHAs  []string
	// Merges counts the merges GitHub made, including those whose answer a fault lost.
	Merges int
	// Disabled merge methods ("merge", "squash", "rebase") answer 405 "... are not allowed".
	Disabled map[string]bool
	// Intercept may answer a request itself (returning true); it runs with Mu held, after the
	// call is counted and its credentials checked, before any injected fault.
	Intercept func(w http.ResponseWriter, r *http.Request, route string) bool
	// ReviewsPerPage caps how many reviews one page lists (GitHub's per_page caps it further).
	ReviewsPerPage int

	// AppID and AppKey check an App's JWT; AppToken is the installation token handed out
	// for installation 42.
	AppID    string
	AppKey   *rsa.PublicKey
	AppToken string

	seq     int
	times   map[string][]time.Time
	faults  map[string][]Fault
	reviews map[int][]review
	deploys []*Deployment
}

// Commit is one commit of the fake repository.
type Commit struct {
	SHA     string
	Message string
	Parents []string
	Files   map[string]string
	Author  string // "Name <email>" when the writer named one
}

// Pull is one pull request.
type Pull struct {
	Number                  int
	Head, Base, Title, Body string
	State                   string // "open" or "closed"
	Merged                  bool
	MergeSHA                string
	// Fork is the owner/name the head branch lives in, when not the repository itself.
	Fork string
}

// RefUpdate is one PATCH of a branch.
type RefUpdate struct {
	Branch string
	Force  bool
}

// Fault is one faulty answer: Status with GitHub's Message; RetryAfter sets the Retry-After
// header; After lets the call take effect first (GitHub did it, the answer was lost).
type Fault struct {
	Status     int
	Message    string
	RetryAfter string
	After      bool
}

// SecondaryRateLimit is GitHub's secondary rate limit as it is sometimes sent: a 403 with
// Retry-After (in seconds) and the message, and no documentation URL.
func SecondaryRateLimit(retryAfter string) Fault {
	return Fault{Status: http.StatusForbidden, RetryAfter: retryAfter,
		Message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
}

// New starts a fake GitHub serving Owner/Repo, accepting Token, whose branch main holds files
// in one commit; the server stops when the test ends. A request for an endpoint it does not
// serve fails the test.
func New(t testing.TB, files map[string]string) *Server {
	t.Helper()
	f := &Server{t: t, Owner: Owner, Repo: Repo, Token: Token,
		Commits: map[string]*Commit{}, Branches: map[string]string{}, Calls: map[string]int{}, Disabled: map[string]bool{},
		ReviewsPerPage: 100, times: map[string][]time.Time{}, faults: map[string][]Fault{}, reviews: map[int][]review{}}
	f.Branches["main"] = f.NewCommit("seed", nil, files)
	mux := http.NewServeMux()
	repo := "/repos/{owner}/{repo}"
	f.handle(mux, "GET ref", "GET "+repo+"/git/ref/heads/{branch...}", f.getRef)
	f.handle(mux, "POST refs", "POST "+repo+"/git/refs", f.createRef)
	f.handle(mux, "PATCH ref", "PATCH "+repo+"/git/refs/heads/{branch...}", f.updateRef)
	f.handle(mux, "GET commit", "GET "+repo+"/git/commits/{sha}", f.getCommit)
	f.handle(mux, "GET contents", "GET "+repo+"/contents/{path...}", f.getContents)
	f.handle(mux, "PUT contents", "PUT "+repo+"/contents/{path...}", f.putContents)
	f.handle(mux, "GET pulls", "GET "+repo+"/pulls", f.listPulls)
	f.handle(mux, "POST pulls", "POST "+repo+"/pulls", f.createPull)
	f.handle(mux, "GET pull", "GET "+repo+"/pulls/{n}", f.getPull)
	f.handle(mux, "PATCH pull", "PATCH "+repo+"/pulls/{n}", f.editPull)
	f.handle(mux, "PUT merge", "PUT "+repo+"/pulls/{n}/merge", f.mergePull)
	f.handle(mux, "GET reviews", "GET "+repo+"/pulls/{n}/reviews", f.listReviews)
	f.handle(mux, "GET compare", "GET "+repo+"/compare/{basehead}", f.compare)
	f.handleDeployments(mux, repo)
	f.handle(mux, "POST app-token", "POST /app/installations/{id}/access_tokens", f.appInstallationToken)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the fake GitHub does not serve %s %s", r.Method, r.URL.Path)
		WriteJSON(w, http.StatusNotFound, notFound)
	})
	f.srv = httptest.NewServer(mux)
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

func (f *Server) handle(mux *http.ServeMux, route, pattern string, h http.HandlerFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		f.Mu.Lock()
		defer f.Mu.Unlock()
		f.Calls[route]++
		f.times[route] = append(f.times[route], time.Now())
		if route != "POST app-token" {
			if r.Header.Get("Authorization") != "Bearer "+f.Token {
				WriteJSON(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
				return
			}
			if r.PathValue("owner") != f.Owner || r.PathValue("repo") != f.Repo {
				WriteJSON(w, http.StatusNotFound, notFound)
				return
			}
		}
		if f.Intercept != nil && f.Intercept(w, r, route) {
			return
		}
		queued := f.faults[route]
		if len(queued) == 0 {
			h(w, r)
			return
		}
		fault := queued[0]
		f.faults[route] = queued[1:]
		if fault.After {
			h(discard{}, r)
		}
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		WriteJSON(w, fault.Status, map[string]any{"message": fault.Message})
	})
}

// discard is a ResponseWriter whose answer is lost.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// Inject queues faults for route: its next calls get them, one each, in order.
func (f *Server) Inject(route string, faults ...Fault) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.faults[route] = append(f.faults[route], faults...)
}

// Count returns how often route was called.
func (f *Server) Count(route string) int {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.Calls[route]
}

// CallTimes returns when route was called, in order.
func (f *Server) CallTimes(route string) []time.Time {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return append([]time.Time(nil), f.times[route]...)
}

// File returns the content of path at the tip of branch ("" when it has none).
func (f *Server) File(branch, path string) string {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.Commits[f.Branches[branch]].Files[path]
}

// Head returns the commit at the tip of branch.
func (f *Server) Head(branch string) *Commit {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.Commits[f.Branches[branch]]
}
