package github

import (
	"cmp"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/alexpermiakov/idp/activities/git/internal/gittest"
)

// provFakeGitHub speaks the GitHub REST endpoints the provider uses, over an in-memory
// repository: commits are full snapshots of the files, branches point at commits.
type provFakeGitHub struct {
	t           *testing.T
	srv         *httptest.Server
	owner, repo string
	token       string // the bearer token it accepts

	mu       sync.Mutex
	seq      int
	commits  map[string]*provFakeCommit
	branches map[string]string
	pulls    []*provFakePull
	calls    map[string]int // by route, e.g. "PUT contents"
	// strict refuses merges of a branch that does not contain its base (branch protection's
	// "require branches to be up to date").
	strict bool
	// refUpdates records every PATCH of a ref; mergeSHAs the sha of every merge request.
	refUpdates []provRefUpdate
	mergeSHAs  []string
	// disabled merge methods answer 405 "... are not allowed".
	disabled map[string]bool
	// intercept may answer a request itself (returning true); it runs under mu, after the
	// call is counted.
	intercept func(w http.ResponseWriter, r *http.Request, route string) bool

	// reviews are the submitted reviews by pull request number, listed reviewsPerPage at a
	// time (GitHub's per_page caps it further).
	reviews        map[int][]provFakeReview
	reviewsPerPage int

	// deploys are the deployments created, with their statuses (fakedeploy_test.go).
	deploys []*provFakeDeploy

	appID    string
	appKey   *rsa.PublicKey
	appToken string // handed out for installation 42
}

type provFakeReview struct {
	id                   int64
	login, state, commit string
	submitted            time.Time
}

type provRefUpdate struct {
	branch string
	force  bool
}

type provFakeCommit struct {
	sha     string
	message string
	parents []string
	files   map[string]string
	author  string // "Name <email>" when the writer named one
}

type provFakePull struct {
	number                  int
	head, base, title, body string
	state                   string
	merged                  bool
	mergeSHA                string
	// fork is the owner/name the head branch lives in, when not the repository itself.
	fork string
}

func provNewFakeGitHub(t *testing.T) *provFakeGitHub {
	t.Helper()
	f := &provFakeGitHub{t: t, owner: "acme", repo: "platform", token: "ghs_test_token_0123456789",
		commits: map[string]*provFakeCommit{}, branches: map[string]string{}, calls: map[string]int{}, disabled: map[string]bool{},
		reviews: map[int][]provFakeReview{}, reviewsPerPage: 100}
	seed := f.newCommit("seed", nil, gittest.Seed)
	f.branches["main"] = seed
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
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *provFakeGitHub) handle(mux *http.ServeMux, route, pattern string, h http.HandlerFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls[route]++
		if route != "POST app-token" {
			if r.Header.Get("Authorization") != "Bearer "+f.token {
				provJSON(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
				return
			}
			if r.PathValue("owner") != f.owner || r.PathValue("repo") != f.repo {
				provJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
				return
			}
		}
		if f.intercept != nil && f.intercept(w, r, route) {
			return
		}
		h(w, r)
	})
}

// count returns how often route was called.
func (f *provFakeGitHub) count(route string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[route]
}

func (f *provFakeGitHub) file(branch, path string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.commits[f.branches[branch]].files[path]
}

func (f *provFakeGitHub) head(branch string) *provFakeCommit {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.commits[f.branches[branch]]
}

func provJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func provDecode(r *http.Request, v any) { _ = json.NewDecoder(r.Body).Decode(v) }

func provBlobSHA(content string) string {
	h := sha1.Sum([]byte(fmt.Sprintf("blob %d\x00%s", len(content), content)))
	return hex.EncodeToString(h[:])
}

// newCommit stores a commit (callers hold mu, or own f exclusively).
func (f *provFakeGitHub) newCommit(msg string, parents []string, files map[string]string) string {
	f.seq++
	h := sha1.Sum([]byte(fmt.Sprint(f.seq, msg, parents)))
	c := &provFakeCommit{sha: hex.EncodeToString(h[:]), message: msg, parents: parents, files: map[string]string{}}
	for k, v := range files {
		c.files[k] = v
	}
	f.commits[c.sha] = c
	return c.sha
}

// commitFile writes one file on branch as someone else would (callers hold mu).
func (f *provFakeGitHub) commitFile(branch, path, content, msg string) {
	tip := f.commits[f.branches[branch]]
	files := map[string]string{}
	for k, v := range tip.files {
		files[k] = v
	}
	files[path] = content
	f.branches[branch] = f.newCommit(msg, []string{tip.sha}, files)
}

func (f *provFakeGitHub) ancestors(sha string) map[string]bool {
	seen := map[string]bool{}
	queue := []string{sha}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if seen[s] {
			continue
		}
		seen[s] = true
		queue = append(queue, f.commits[s].parents...)
	}
	return seen
}

// merge3 merges the files of head into base file by file from their merge base.
func (f *provFakeGitHub) merge3(base, head string) (map[string]string, bool) {
	inBase := f.ancestors(base)
	mb := ""
	queue := []string{head}
	for len(queue) > 0 && mb == "" {
		s := queue[0]
		queue = queue[1:]
		if inBase[s] {
			mb = s
		}
		queue = append(queue, f.commits[s].parents...)
	}
	b, h, m := f.commits[base].files, f.commits[head].files, f.commits[mb].files
	out := map[string]string{}
	paths := map[string]bool{}
	for _, files := range []map[string]string{b, h, m} {
		for p := range files {
			paths[p] = true
		}
	}
	for p := range paths {
		bv, bok := b[p]
		hv, hok := h[p]
		mv, mok := m[p]
		switch {
		case hv == mv && hok == mok, hv == bv && hok == bok:
			if bok {
				out[p] = bv
			}
		case bv == mv && bok == mok:
			if hok {
				out[p] = hv
			}
		default:
			return nil, false
		}
	}
	return out, true
}

func (f *provFakeGitHub) pull(r *http.Request) *provFakePull {
	n, _ := strconv.Atoi(r.PathValue("n"))
	for _, p := range f.pulls {
		if p.number == n {
			return p
		}
	}
	return nil
}

func (f *provFakeGitHub) pullJSON(p *provFakePull) map[string]any {
	head, base := f.branches[p.head], f.branches[p.base]
	mergeable := "clean"
	if _, ok := f.merge3(base, head); !ok {
		mergeable = "dirty"
	} else if f.strict && !f.ancestors(head)[base] {
		mergeable = "behind"
	}
	return map[string]any{
		"number": p.number, "state": p.state, "title": p.title, "body": p.body, "merged": p.merged, "mergeable_state": mergeable,
		"merge_commit_sha": p.mergeSHA, "html_url": fmt.Sprintf("https://github.test/%s/%s/pull/%d", f.owner, f.repo, p.number),
		"head": map[string]any{"ref": p.head, "sha": f.branches[p.head], "repo": map[string]any{"full_name": cmp.Or(p.fork, f.owner+"/"+f.repo)}},
		"base": map[string]any{"ref": p.base, "sha": f.branches[p.base]},
	}
}

func (f *provFakeGitHub) refJSON(branch string) map[string]any {
	return map[string]any{"ref": "refs/heads/" + branch, "object": map[string]any{"type": "commit", "sha": f.branches[branch]}}
}

// review adds a submitted review of pull request n, as a reviewer would.
func (f *provFakeGitHub) review(n int, login, state, commit string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	r := provFakeReview{id: int64(1000 + f.seq), login: login, state: state, commit: commit,
		submitted: time.Date(2025, 1, 2, 3, 4, f.seq%60, 0, time.UTC)}
	f.reviews[n] = append(f.reviews[n], r)
	return r.id
}

// listReviews answers GET .../pulls/{n}/reviews a page at a time, with GitHub's Link header.
func (f *provFakeGitHub) listReviews(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.PathValue("n"))
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 || per > f.reviewsPerPage {
		per = f.reviewsPerPage
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	all := f.reviews[n]
	out := []map[string]any{}
	for i := (page - 1) * per; i < len(all) && i < page*per; i++ {
		rv := all[i]
		out = append(out, map[string]any{"id": rv.id, "user": map[string]any{"login": rv.login}, "state": rv.state,
			"commit_id": rv.commit, "submitted_at": rv.submitted.Format(time.RFC3339),
			"html_url": fmt.Sprintf("https://github.test/%s/%s/pull/%d#pullrequestreview-%d", f.owner, f.repo, n, rv.id)})
	}
	if page*per < len(all) {
		next := *r.URL
		q := next.Query()
		q.Set("page", strconv.Itoa(page+1))
		next.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, f.srv.URL, next.String()))
	}
	provJSON(w, http.StatusOK, out)
}
