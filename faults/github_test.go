//go:build faults

package faults

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/github"
	"github.com/alexpermiakov/idp/internal/policy"
)

// fakeGitHub is the part of GitHub's REST API a prod promotion uses (refs, contents,
// commits, compare, pull requests and their merge), with a repository in memory, and faults
// queued per route: a GitHub that answers 5xx or rate-limits some calls.
type fakeGitHub struct {
	mu       sync.Mutex
	commits  map[string]*ghCommit
	branches map[string]string
	pulls    []*ghPull
	seq      int
	// calls records each request: its route and when it came.
	calls []ghCall
	// faults are answered, in order, instead of (or, after, following) a route's next calls.
	faults map[string][]ghFault
	merges int
}

type ghCommit struct {
	sha, message string
	parent       string
	files        map[string]string
}

type ghPull struct {
	number                  int
	head, base, title, body string
	merged                  bool
	mergeSHA                string
}

type ghCall struct {
	route string
	at    time.Time
}

// ghFault is one faulty answer: status with GitHub's message; retryAfter sets Retry-After;
// after lets the call take effect first (GitHub did it, the answer was lost).
type ghFault struct {
	status     int
	message    string
	retryAfter string
	after      bool
}

const ghOwner, ghRepo, ghToken = "acme", "platform", "ghp_faults_test_token"

func newFakeGitHub(t *testing.T, files map[string]string) (*fakeGitHub, *httptest.Server) {
	f := &fakeGitHub{commits: map[string]*ghCommit{}, branches: map[string]string{}, faults: map[string][]ghFault{}}
	f.branches["main"] = f.commit("seed", "", files)
	mux := http.NewServeMux()
	repo := "/repos/" + ghOwner + "/" + ghRepo
	f.route(mux, "GET ref", "GET "+repo+"/git/ref/heads/{branch...}", f.getRef)
	f.route(mux, "POST refs", "POST "+repo+"/git/refs", f.createRef)
	f.route(mux, "PATCH ref", "PATCH "+repo+"/git/refs/heads/{branch...}", f.updateRef)
	f.route(mux, "GET commit", "GET "+repo+"/git/commits/{sha}", f.getCommit)
	f.route(mux, "GET contents", "GET "+repo+"/contents/{path...}", f.getContents)
	f.route(mux, "PUT contents", "PUT "+repo+"/contents/{path...}", f.putContents)
	f.route(mux, "GET pulls", "GET "+repo+"/pulls", f.listPulls)
	f.route(mux, "POST pulls", "POST "+repo+"/pulls", f.createPull)
	f.route(mux, "GET pull", "GET "+repo+"/pulls/{n}", f.getPull)
	f.route(mux, "PATCH pull", "PATCH "+repo+"/pulls/{n}", f.editPull)
	f.route(mux, "PUT merge", "PUT "+repo+"/pulls/{n}/merge", f.mergePull)
	f.route(mux, "GET compare", "GET "+repo+"/compare/{basehead}", f.compare)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the fake GitHub does not serve %s %s", r.Method, r.URL.Path)
		ghJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeGitHub) route(mux *http.ServeMux, name, pattern string, h http.HandlerFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, ghCall{route: name, at: time.Now()})
		if r.Header.Get("Authorization") != "Bearer "+ghToken {
			ghJSON(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials"})
			return
		}
		queued := f.faults[name]
		if len(queued) == 0 {
			h(w, r)
			return
		}
		fault := queued[0]
		f.faults[name] = queued[1:]
		if fault.after {
			h(discard{}, r)
		}
		if fault.retryAfter != "" {
			w.Header().Set("Retry-After", fault.retryAfter)
		}
		ghJSON(w, fault.status, map[string]any{"message": fault.message})
	})
}

// discard is a ResponseWriter whose answer is lost.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

func ghJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeGitHub) commit(msg, parent string, files map[string]string) string {
	f.seq++
	h := sha1.Sum([]byte(fmt.Sprint(f.seq, msg, parent)))
	c := &ghCommit{sha: hex.EncodeToString(h[:]), message: msg, parent: parent, files: map[string]string{}}
	for k, v := range files {
		c.files[k] = v
	}
	f.commits[c.sha] = c
	return c.sha
}

func blobSHA(content string) string {
	h := sha1.Sum([]byte(fmt.Sprintf("blob %d\x00%s", len(content), content)))
	return hex.EncodeToString(h[:])
}

func (f *fakeGitHub) refJSON(b string) map[string]any {
	return map[string]any{"ref": "refs/heads/" + b, "object": map[string]any{"type": "commit", "sha": f.branches[b]}}
}

func (f *fakeGitHub) getRef(w http.ResponseWriter, r *http.Request) {
	if _, ok := f.branches[r.PathValue("branch")]; !ok {
		ghJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	ghJSON(w, http.StatusOK, f.refJSON(r.PathValue("branch")))
}

func (f *fakeGitHub) createRef(w http.ResponseWriter, r *http.Request) {
	var in struct{ Ref, SHA string }
	_ = json.NewDecoder(r.Body).Decode(&in)
	b := strings.TrimPrefix(in.Ref, "refs/heads/")
	if _, ok := f.branches[b]; ok || f.commits[in.SHA] == nil {
		ghJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Reference already exists"})
		return
	}
	f.branches[b] = in.SHA
	ghJSON(w, http.StatusCreated, f.refJSON(b))
}

func (f *fakeGitHub) updateRef(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SHA   string
		Force bool
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	b := r.PathValue("branch")
	if _, ok := f.branches[b]; !ok || f.commits[in.SHA] == nil || !in.Force {
		ghJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Update is not a fast forward"})
		return
	}
	f.branches[b] = in.SHA
	ghJSON(w, http.StatusOK, f.refJSON(b))
}

func (f *fakeGitHub) getCommit(w http.ResponseWriter, r *http.Request) {
	c := f.commits[r.PathValue("sha")]
	if c == nil {
		ghJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	ghJSON(w, http.StatusOK, map[string]any{"sha": c.sha, "message": c.message})
}

func (f *fakeGitHub) at(ref string) *ghCommit {
	if c := f.commits[ref]; c != nil {
		return c
	}
	return f.commits[f.branches[ref]]
}

func (f *fakeGitHub) getContents(w http.ResponseWriter, r *http.Request) {
	c := f.at(r.URL.Query().Get("ref"))
	content, ok := "", false
	if c != nil {
		content, ok = c.files[r.PathValue("path")]
	}
	if !ok {
		ghJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	ghJSON(w, http.StatusOK, map[string]any{"type": "file", "encoding": "base64", "path": r.PathValue("path"),
		"content": base64.StdEncoding.EncodeToString([]byte(content)), "sha": blobSHA(content)})
}

func (f *fakeGitHub) putContents(w http.ResponseWriter, r *http.Request) {
	var in struct{ Message, Content, SHA, Branch string }
	_ = json.NewDecoder(r.Body).Decode(&in)
	path := r.PathValue("path")
	tip := f.commits[f.branches[in.Branch]]
	if tip == nil || blobSHA(tip.files[path]) != in.SHA {
		ghJSON(w, http.StatusConflict, map[string]any{"message": "is at another sha"})
		return
	}
	content, _ := base64.StdEncoding.DecodeString(in.Content)
	files := map[string]string{}
	for k, v := range tip.files {
		files[k] = v
	}
	files[path] = string(content)
	f.branches[in.Branch] = f.commit(in.Message, tip.sha, files)
	ghJSON(w, http.StatusOK, map[string]any{"commit": map[string]any{"sha": f.branches[in.Branch]}})
}

func (f *fakeGitHub) pullJSON(p *ghPull) map[string]any {
	state := "open"
	if p.merged {
		state = "closed"
	}
	return map[string]any{"number": p.number, "state": state, "title": p.title, "body": p.body, "merged": p.merged,
		"merge_commit_sha": p.mergeSHA, "mergeable_state": "clean", "html_url": fmt.Sprintf("https://github.test/%s/%s/pull/%d", ghOwner, ghRepo, p.number),
		"head": map[string]any{"ref": p.head, "sha": f.branches[p.head]}, "base": map[string]any{"ref": p.base, "sha": f.branches[p.base]}}
}

func (f *fakeGitHub) listPulls(w http.ResponseWriter, r *http.Request) {
	out := []map[string]any{}
	for _, p := range f.pulls {
		if !p.merged && ghOwner+":"+p.head == r.URL.Query().Get("head") {
			out = append(out, f.pullJSON(p))
		}
	}
	ghJSON(w, http.StatusOK, out)
}

func (f *fakeGitHub) createPull(w http.ResponseWriter, r *http.Request) {
	var in struct{ Title, Head, Base, Body string }
	_ = json.NewDecoder(r.Body).Decode(&in)
	for _, p := range f.pulls {
		if p.head == in.Head && !p.merged {
			ghJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "A pull request already exists for " + ghOwner + ":" + in.Head})
			return
		}
	}
	p := &ghPull{number: len(f.pulls) + 1, head: in.Head, base: in.Base, title: in.Title, body: in.Body}
	f.pulls = append(f.pulls, p)
	ghJSON(w, http.StatusCreated, f.pullJSON(p))
}

func (f *fakeGitHub) pull(r *http.Request) *ghPull {
	n, _ := strconv.Atoi(r.PathValue("n"))
	if n < 1 || n > len(f.pulls) {
		return nil
	}
	return f.pulls[n-1]
}

func (f *fakeGitHub) getPull(w http.ResponseWriter, r *http.Request) {
	if p := f.pull(r); p != nil {
		ghJSON(w, http.StatusOK, f.pullJSON(p))
		return
	}
	ghJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
}

func (f *fakeGitHub) editPull(w http.ResponseWriter, r *http.Request) {
	var in struct{ Body string }
	_ = json.NewDecoder(r.Body).Decode(&in)
	p := f.pull(r)
	if p == nil {
		ghJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	p.body = in.Body
	ghJSON(w, http.StatusOK, f.pullJSON(p))
}

// mergePull squashes the pull request's head onto its base: one new commit on base with the
// files head changed.
func (f *fakeGitHub) mergePull(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SHA         string `json:"sha"`
		CommitTitle string `json:"commit_title"`
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	p := f.pull(r)
	switch {
	case p == nil:
		ghJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	case p.merged:
		ghJSON(w, http.StatusMethodNotAllowed, map[string]any{"message": "Pull Request is not mergeable"})
		return
	case f.branches[p.head] != in.SHA:
		ghJSON(w, http.StatusConflict, map[string]any{"message": "Head branch was modified. Review and try the merge again."})
		return
	}
	head, base := f.commits[f.branches[p.head]], f.commits[f.branches[p.base]]
	files := map[string]string{}
	for k, v := range base.files {
		files[k] = v
	}
	for k, v := range head.files {
		if f.commits[head.parent].files[k] != v {
			files[k] = v
		}
	}
	f.branches[p.base] = f.commit(in.CommitTitle, base.sha, files)
	p.merged, p.mergeSHA = true, f.branches[p.base]
	f.merges++
	ghJSON(w, http.StatusOK, map[string]any{"sha": p.mergeSHA, "merged": true, "message": "Pull Request successfully merged"})
}

// compare answers base...head for a head that is base plus commits on top.
func (f *fakeGitHub) compare(w http.ResponseWriter, r *http.Request) {
	baseRef, headRef, _ := strings.Cut(r.PathValue("basehead"), "...")
	base, head := f.at(baseRef), f.at(headRef)
	if base == nil || head == nil {
		ghJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	var commits []map[string]any
	c := head
	for c != nil && c.sha != base.sha {
		commits = append([]map[string]any{{"sha": c.sha, "commit": map[string]any{"message": c.message}}}, commits...)
		c = f.commits[c.parent]
	}
	status := "ahead"
	if c == nil {
		status = "diverged"
	}
	var files []map[string]any
	for k, v := range head.files {
		if base.files[k] != v {
			files = append(files, map[string]any{"filename": k})
		}
	}
	ghJSON(w, http.StatusOK, map[string]any{"status": status, "ahead_by": len(commits), "behind_by": 0, "commits": commits, "files": files})
}

// after returns the calls of route, in order.
func (f *fakeGitHub) callsOf(route string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Time
	for _, c := range f.calls {
		if c.route == route {
			out = append(out, c.at)
		}
	}
	return out
}

func (f *fakeGitHub) inject(route string, faults ...ghFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[route] = append(f.faults[route], faults...)
}

// secondaryLimit is GitHub's secondary rate limit as it is sometimes sent: a 403 with
// Retry-After and the message, and no documentation URL.
func secondaryLimit(secs string) ghFault {
	return ghFault{status: http.StatusForbidden, retryAfter: secs,
		message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
}

// TestGitHubFaultsInProdMerge is fault 6: GitHub answers 502 and 503 to some calls of a prod
// promotion's proposal and merge (one of them after it did what was asked: it opened the pull
// request, it merged), and rate-limits others with its secondary rate limit (403, Retry-After,
// the message). What must hold: each call is retried, no earlier than Retry-After asks;
// exactly one pull request and exactly one merge; main ends with the approved image. A rate
// limit longer than the provider waits in place fails the attempt as retryable with the
// activity's next attempt put off until then, without calling GitHub again meanwhile.
func TestGitHubFaultsInProdMerge(t *testing.T) {
	path := policy.ManifestPath("prod", "time-service")
	seed, err := os.ReadFile("../" + path)
	require.NoError(t, err)
	image := "864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:v1.2.3@sha256:" + strings.Repeat("ab", 32)
	write := git.WriteImageInput{Env: "prod", Service: "time-service", Image: image, Propose: true,
		Head: policy.ProposalBranch("time-service", "prod", "v1.2.3"), Title: "Promote time-service v1.2.3 to prod",
		Message: "promote time-service v1.2.3 to prod\n\nworkflow: promote-time-service-v1.2.3"}

	t.Run("5xx and a short secondary rate limit are retried", func(t *testing.T) {
		f, srv := newFakeGitHub(t, map[string]string{path: string(seed)})
		a := ghActivities(t, srv.URL)
		f.inject("PUT contents", ghFault{status: http.StatusServiceUnavailable, message: "Service Unavailable"})
		f.inject("POST pulls", ghFault{status: http.StatusBadGateway, message: "Bad Gateway", after: true})
		f.inject("GET pull", secondaryLimit("2"))
		f.inject("PUT merge", ghFault{status: http.StatusBadGateway, message: "Bad Gateway", after: true})
		start := time.Now()
		written, err := a.WriteImage(context.Background(), write)
		require.NoError(t, err)
		require.NotNil(t, written.Proposal)
		require.Equal(t, 1, written.Proposal.Number, "the pull request GitHub opened behind its 502 is the one")
		merged, err := a.MergeProposal(context.Background(), git.MergeInput{Proposal: *written.Proposal, Body: "approved by bob"})
		require.NoError(t, err)
		Recovered(t, "GitHub 502/503 and a 2 s secondary rate limit in a prod proposal and merge", time.Since(start))

		require.Len(t, f.pulls, 1, "one pull request")
		require.Equal(t, 1, f.merges, "one merge")
		require.Equal(t, f.branches["main"], merged.Commit, "the merge GitHub made behind its 502")
		require.Contains(t, f.commits[f.branches["main"]].files[path], image)
		pulls := f.callsOf("GET pull")
		require.GreaterOrEqual(t, len(pulls), 2)
		require.GreaterOrEqual(t, pulls[1].Sub(pulls[0]), 2*time.Second, "Retry-After: 2 is honoured")
		require.Len(t, f.callsOf("PUT merge"), 1, "the merge that landed behind a 502 is not asked for again")
	})

	t.Run("a long secondary rate limit puts off the next attempt", func(t *testing.T) {
		f, srv := newFakeGitHub(t, map[string]string{path: string(seed)})
		a := ghActivities(t, srv.URL)
		written, err := a.WriteImage(context.Background(), write)
		require.NoError(t, err)
		f.inject("GET pull", secondaryLimit("120"))
		calls := len(f.callsOf("GET pull"))
		_, err = a.MergeProposal(context.Background(), git.MergeInput{Proposal: *written.Proposal})
		var app *temporal.ApplicationError
		require.True(t, errors.As(err, &app), "%v", err)
		require.Equal(t, git.ErrRateLimited, app.Type())
		require.False(t, app.NonRetryable(), "a rate limit is not a refusal of credentials")
		require.Equal(t, 120*time.Second, app.NextRetryDelay())
		require.Contains(t, app.Error(), "secondary rate limit")
		require.Len(t, f.callsOf("GET pull"), calls+1, "GitHub is not called again during the limit")
		require.Zero(t, f.merges)
	})
}

func ghActivities(t *testing.T, url string) *git.Activities {
	t.Helper()
	p, err := github.New(ghOwner+"/"+ghRepo, git.Options{Token: ghToken, APIURL: url + "/"})
	require.NoError(t, err)
	return &git.Activities{Provider: p, Branch: "main"}
}
