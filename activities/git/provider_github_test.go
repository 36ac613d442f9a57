package git

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/stretchr/testify/require"
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
	// "require branches to be up to date"), so a moved base needs update-branch.
	strict bool
	// disabled merge methods answer 405 "... are not allowed".
	disabled map[string]bool
	// intercept may answer a request itself (returning true); it runs under mu, after the
	// call is counted.
	intercept func(w http.ResponseWriter, r *http.Request, route string) bool

	appID    string
	appKey   *rsa.PublicKey
	appToken string // handed out for installation 42
}

type provFakeCommit struct {
	sha     string
	message string
	parents []string
	files   map[string]string
}

type provFakePull struct {
	number                  int
	head, base, title, body string
	state                   string
	merged                  bool
	mergeSHA                string
}

func provNewFakeGitHub(t *testing.T) *provFakeGitHub {
	t.Helper()
	f := &provFakeGitHub{t: t, owner: "acme", repo: "platform", token: "ghs_test_token_0123456789",
		commits: map[string]*provFakeCommit{}, branches: map[string]string{}, calls: map[string]int{}, disabled: map[string]bool{}}
	seed := f.newCommit("seed", nil, provSeed)
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
	f.handle(mux, "PUT update-branch", "PUT "+repo+"/pulls/{n}/update-branch", f.updateBranch)
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
	return map[string]any{
		"number": p.number, "state": p.state, "title": p.title, "body": p.body, "merged": p.merged,
		"merge_commit_sha": p.mergeSHA, "html_url": fmt.Sprintf("https://github.test/%s/%s/pull/%d", f.owner, f.repo, p.number),
		"head": map[string]any{"ref": p.head, "sha": f.branches[p.head]},
		"base": map[string]any{"ref": p.base, "sha": f.branches[p.base]},
	}
}

func (f *provFakeGitHub) refJSON(branch string) map[string]any {
	return map[string]any{"ref": "refs/heads/" + branch, "object": map[string]any{"type": "commit", "sha": f.branches[branch]}}
}

var provNotFound = map[string]any{"message": "Not Found"}

func (f *provFakeGitHub) getRef(w http.ResponseWriter, r *http.Request) {
	b := r.PathValue("branch")
	if _, ok := f.branches[b]; !ok {
		provJSON(w, http.StatusNotFound, provNotFound)
		return
	}
	provJSON(w, http.StatusOK, f.refJSON(b))
}

func (f *provFakeGitHub) createRef(w http.ResponseWriter, r *http.Request) {
	var in struct{ Ref, SHA string }
	provDecode(r, &in)
	b := strings.TrimPrefix(in.Ref, "refs/heads/")
	if _, ok := f.branches[b]; ok {
		provJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Reference already exists"})
		return
	}
	if f.commits[in.SHA] == nil {
		provJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Object does not exist"})
		return
	}
	f.branches[b] = in.SHA
	provJSON(w, http.StatusCreated, f.refJSON(b))
}

func (f *provFakeGitHub) updateRef(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SHA   string
		Force bool
	}
	provDecode(r, &in)
	b := r.PathValue("branch")
	old, ok := f.branches[b]
	if !ok || f.commits[in.SHA] == nil {
		provJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Reference does not exist"})
		return
	}
	if !in.Force && !f.ancestors(in.SHA)[old] {
		provJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Update is not a fast forward"})
		return
	}
	f.branches[b] = in.SHA
	provJSON(w, http.StatusOK, f.refJSON(b))
}

func (f *provFakeGitHub) getCommit(w http.ResponseWriter, r *http.Request) {
	c := f.commits[r.PathValue("sha")]
	if c == nil {
		provJSON(w, http.StatusNotFound, provNotFound)
		return
	}
	provJSON(w, http.StatusOK, map[string]any{"sha": c.sha, "message": c.message})
}

func (f *provFakeGitHub) getContents(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("ref")
	c := f.commits[ref]
	if c == nil {
		c = f.commits[f.branches[ref]]
	}
	content, ok := "", false
	if c != nil {
		content, ok = c.files[r.PathValue("path")]
	}
	if !ok {
		provJSON(w, http.StatusNotFound, provNotFound)
		return
	}
	// GitHub wraps the base64 at 60 columns.
	enc := base64.StdEncoding.EncodeToString([]byte(content))
	var lines []string
	for len(enc) > 60 {
		lines, enc = append(lines, enc[:60]), enc[60:]
	}
	lines = append(lines, enc)
	provJSON(w, http.StatusOK, map[string]any{"type": "file", "encoding": "base64", "path": r.PathValue("path"),
		"content": strings.Join(lines, "\n") + "\n", "sha": provBlobSHA(content)})
}

func (f *provFakeGitHub) putContents(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Message, Content, SHA, Branch string
		Author                        *struct{ Name, Email string }
	}
	provDecode(r, &in)
	path := r.PathValue("path")
	tip, ok := f.branches[in.Branch]
	if !ok {
		provJSON(w, http.StatusNotFound, map[string]any{"message": "Branch not found"})
		return
	}
	cur, exists := f.commits[tip].files[path]
	switch {
	case exists && in.SHA == "":
		provJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Invalid request.\n\n\"sha\" wasn't supplied."})
		return
	case exists && in.SHA != provBlobSHA(cur), !exists && in.SHA != "":
		provJSON(w, http.StatusConflict, map[string]any{"message": fmt.Sprintf("%s does not match %s", path, in.SHA)})
		return
	}
	content, err := base64.StdEncoding.DecodeString(in.Content)
	require.NoError(f.t, err)
	f.commitFile(in.Branch, path, string(content), in.Message)
	sha := f.branches[in.Branch]
	provJSON(w, http.StatusOK, map[string]any{"content": map[string]any{"path": path, "sha": provBlobSHA(string(content))},
		"commit": map[string]any{"sha": sha, "message": in.Message}})
}

func (f *provFakeGitHub) listPulls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out := []map[string]any{}
	for _, p := range f.pulls {
		if (q.Get("state") == "" || q.Get("state") == "all" || q.Get("state") == p.state) &&
			(q.Get("head") == "" || q.Get("head") == f.owner+":"+p.head) && (q.Get("base") == "" || q.Get("base") == p.base) {
			out = append(out, f.pullJSON(p))
		}
	}
	provJSON(w, http.StatusOK, out)
}

func (f *provFakeGitHub) createPull(w http.ResponseWriter, r *http.Request) {
	var in struct{ Title, Head, Base, Body string }
	provDecode(r, &in)
	for _, p := range f.pulls {
		if p.state == "open" && p.head == in.Head && p.base == in.Base {
			provJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed",
				"errors": []map[string]any{{"message": "A pull request already exists for " + f.owner + ":" + in.Head + "."}}})
			return
		}
	}
	if _, ok := f.branches[in.Head]; !ok || f.branches[in.Head] == f.branches[in.Base] {
		provJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed",
			"errors": []map[string]any{{"message": "No commits between " + in.Base + " and " + in.Head}}})
		return
	}
	p := &provFakePull{number: len(f.pulls) + 1, head: in.Head, base: in.Base, title: in.Title, body: in.Body, state: "open"}
	f.pulls = append(f.pulls, p)
	provJSON(w, http.StatusCreated, f.pullJSON(p))
}

func (f *provFakeGitHub) getPull(w http.ResponseWriter, r *http.Request) {
	p := f.pull(r)
	if p == nil {
		provJSON(w, http.StatusNotFound, provNotFound)
		return
	}
	provJSON(w, http.StatusOK, f.pullJSON(p))
}

func (f *provFakeGitHub) editPull(w http.ResponseWriter, r *http.Request) {
	p := f.pull(r)
	if p == nil {
		provJSON(w, http.StatusNotFound, provNotFound)
		return
	}
	var in struct{ Title, Body, State *string }
	provDecode(r, &in)
	if in.Title != nil {
		p.title = *in.Title
	}
	if in.Body != nil {
		p.body = *in.Body
	}
	if in.State != nil {
		p.state = *in.State
	}
	provJSON(w, http.StatusOK, f.pullJSON(p))
}

func (f *provFakeGitHub) mergePull(w http.ResponseWriter, r *http.Request) {
	p := f.pull(r)
	if p == nil {
		provJSON(w, http.StatusNotFound, provNotFound)
		return
	}
	var in struct {
		CommitTitle   string `json:"commit_title"`
		CommitMessage string `json:"commit_message"`
		MergeMethod   string `json:"merge_method"`
		SHA           string `json:"sha"`
	}
	provDecode(r, &in)
	head, base := f.branches[p.head], f.branches[p.base]
	notMergeable := map[string]any{"message": "Pull Request is not mergeable"}
	switch {
	case p.state != "open":
		provJSON(w, http.StatusMethodNotAllowed, notMergeable)
		return
	case f.disabled[in.MergeMethod]:
		provJSON(w, http.StatusMethodNotAllowed, map[string]any{"message": strings.ToUpper(in.MergeMethod[:1]) + in.MergeMethod[1:] + " merges are not allowed on this repository."})
		return
	case in.SHA != "" && in.SHA != head:
		provJSON(w, http.StatusConflict, map[string]any{"message": "Head branch was modified. Review and try the merge again."})
		return
	case f.strict && !f.ancestors(head)[base]:
		provJSON(w, http.StatusMethodNotAllowed, map[string]any{"message": "Head branch is out of date. Review and try the merge again."})
		return
	}
	files, ok := f.merge3(base, head)
	if !ok {
		provJSON(w, http.StatusMethodNotAllowed, notMergeable)
		return
	}
	title := in.CommitTitle
	if title == "" {
		title = fmt.Sprintf("Merge pull request #%d from %s/%s", p.number, f.owner, p.head)
	}
	msg := title
	if in.CommitMessage != "" {
		msg += "\n\n" + in.CommitMessage
	}
	parents := []string{base}
	if in.MergeMethod == "merge" || in.MergeMethod == "" {
		parents = append(parents, head)
	}
	sha := f.newCommit(msg, parents, files)
	f.branches[p.base] = sha
	p.merged, p.state, p.mergeSHA = true, "closed", sha
	provJSON(w, http.StatusOK, map[string]any{"sha": sha, "merged": true, "message": "Pull Request successfully merged"})
}

func (f *provFakeGitHub) updateBranch(w http.ResponseWriter, r *http.Request) {
	p := f.pull(r)
	if p == nil {
		provJSON(w, http.StatusNotFound, provNotFound)
		return
	}
	var in struct {
		ExpectedHeadSHA string `json:"expected_head_sha"`
	}
	provDecode(r, &in)
	head, base := f.branches[p.head], f.branches[p.base]
	switch {
	case in.ExpectedHeadSHA != "" && in.ExpectedHeadSHA != head:
		provJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "expected head sha didn't match current head ref."})
		return
	case f.ancestors(head)[base]:
		provJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "There are no new commits on the base branch."})
		return
	}
	files, ok := f.merge3(base, head)
	if !ok {
		provJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "merge conflict between base and head"})
		return
	}
	f.branches[p.head] = f.newCommit("Merge branch '"+p.base+"' into "+p.head, []string{head, base}, files)
	provJSON(w, http.StatusAccepted, map[string]any{"message": "Updating pull request branch."})
}

func (f *provFakeGitHub) appInstallationToken(w http.ResponseWriter, r *http.Request) {
	raw := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok, err := jwt.ParseWithClaims(raw, &jwt.RegisteredClaims{}, func(*jwt.Token) (any, error) { return f.appKey, nil },
		jwt.WithValidMethods([]string{"RS256"}))
	if err != nil || r.PathValue("id") != "42" || tok.Claims.(*jwt.RegisteredClaims).Issuer != f.appID {
		provJSON(w, http.StatusUnauthorized, map[string]any{"message": "A JSON web token could not be decoded"})
		return
	}
	provJSON(w, http.StatusCreated, map[string]any{"token": f.appToken, "expires_at": time.Now().Add(time.Hour).Format(time.RFC3339)})
}

// provGitHubProvider is a provider pointed at the fake, with the fake's token.
func provGitHubProvider(t *testing.T, f *provFakeGitHub) *githubProvider {
	t.Helper()
	hc := &http.Client{Transport: &tokenTransport{token: func(context.Context) (string, error) { return f.token, nil }}}
	p, err := newGitHubProvider(f.owner+"/"+f.repo, f.srv.URL, hc)
	require.NoError(t, err)
	p.retry = provFastRetry
	return p
}

func TestGitHubProviderCommit(t *testing.T) {
	t.Parallel()
	msg := "promote time-service v1.2.3 to staging\n\nworkflow: promote-time-service-v1.2.3\n"
	bump := Change{Path: provProdApp, Edit: provImage("idp/localtime:v1.2.3"), Message: msg}
	tests := []struct {
		name      string
		branch    string
		change    Change
		intercept func(f *provFakeGitHub) func(w http.ResponseWriter, r *http.Request, route string) bool
		check     func(t *testing.T, f *provFakeGitHub, seed string, res CommitResult, err error)
	}{
		{
			name: "writes the edited file with the message", branch: "main", change: bump,
			check: func(t *testing.T, f *provFakeGitHub, seed string, res CommitResult, err error) {
				require.NoError(t, err)
				head := f.head("main")
				require.Equal(t, CommitResult{Commit: head.sha, Changed: true}, res)
				require.Equal(t, msg, head.message)
				require.Equal(t, []string{seed}, head.parents)
				require.Equal(t, "name: time-service\nimage: idp/localtime:v1.2.3\n", head.files[provProdApp])
				require.Equal(t, provSeed[provDevApp], head.files[provDevApp])
				require.Equal(t, 1, f.count("PUT contents"))
			},
		},
		{
			name: "creates a missing file", branch: "main",
			change: Change{Path: "argocd/applications/qa/version-service.yaml", Edit: provImage("idp/version:v1"), Message: "qa"},
			check: func(t *testing.T, f *provFakeGitHub, _ string, res CommitResult, err error) {
				require.NoError(t, err)
				require.True(t, res.Changed)
				require.Equal(t, "image: idp/version:v1\n", f.file("main", "argocd/applications/qa/version-service.yaml"))
			},
		},
		{
			name: "an edit that changes nothing writes nothing", branch: "main",
			change: Change{Path: provProdApp, Edit: provImage("idp/localtime:v1.0.0"), Message: "noop"},
			check: func(t *testing.T, f *provFakeGitHub, seed string, res CommitResult, err error) {
				require.NoError(t, err)
				require.Equal(t, CommitResult{Commit: seed}, res)
				require.Zero(t, f.count("PUT contents"))
			},
		},
		{
			name: "409 on the first write: re-reads the moved branch and re-applies the edit", branch: "main", change: bump,
			intercept: func(f *provFakeGitHub) func(w http.ResponseWriter, r *http.Request, route string) bool {
				return func(w http.ResponseWriter, r *http.Request, route string) bool {
					if route != "PUT contents" || f.calls[route] != 1 {
						return false
					}
					// Someone else changed the same file just before our write landed.
					f.commitFile("main", provProdApp, f.commits[f.branches["main"]].files[provProdApp]+"replicas: 2\n", "scale prod")
					provJSON(w, http.StatusConflict, map[string]any{"message": "is at abc but expected def"})
					return true
				}
			},
			check: func(t *testing.T, f *provFakeGitHub, _ string, res CommitResult, err error) {
				require.NoError(t, err)
				require.True(t, res.Changed)
				require.Equal(t, 2, f.count("PUT contents"))
				head := f.head("main")
				require.Equal(t, res.Commit, head.sha)
				require.Equal(t, "name: time-service\nimage: idp/localtime:v1.2.3\nreplicas: 2\n", head.files[provProdApp], "both changes kept")
				require.Equal(t, "scale prod", f.commits[head.parents[0]].message)
			},
		},
		{
			name: "502 then success is retried", branch: "main", change: bump,
			intercept: func(f *provFakeGitHub) func(w http.ResponseWriter, r *http.Request, route string) bool {
				return func(w http.ResponseWriter, r *http.Request, route string) bool {
					if route == "GET ref" && f.calls[route] == 1 {
						provJSON(w, http.StatusBadGateway, map[string]any{"message": "Server Error"})
						return true
					}
					return false
				}
			},
			check: func(t *testing.T, f *provFakeGitHub, _ string, res CommitResult, err error) {
				require.NoError(t, err)
				require.True(t, res.Changed)
				require.Equal(t, 2, f.count("GET ref"))
				require.Equal(t, 1, f.count("PUT contents"))
			},
		},
		{
			name: "a write that landed despite a 502 is reported as ours", branch: "main", change: bump,
			intercept: func(f *provFakeGitHub) func(w http.ResponseWriter, r *http.Request, route string) bool {
				return func(w http.ResponseWriter, r *http.Request, route string) bool {
					if route != "PUT contents" || f.calls[route] != 1 {
						return false
					}
					f.putContents(httptest.NewRecorder(), r)
					provJSON(w, http.StatusBadGateway, map[string]any{"message": "Server Error"})
					return true
				}
			},
			check: func(t *testing.T, f *provFakeGitHub, _ string, res CommitResult, err error) {
				require.NoError(t, err)
				require.Equal(t, CommitResult{Commit: f.head("main").sha, Changed: true}, res)
				require.Equal(t, msg, f.head("main").message)
				require.Equal(t, 1, f.count("PUT contents"), "the retry finds the edit in place")
			},
		},
		{
			name: "a secondary rate limit is waited out", branch: "main", change: bump,
			intercept: func(f *provFakeGitHub) func(w http.ResponseWriter, r *http.Request, route string) bool {
				return func(w http.ResponseWriter, r *http.Request, route string) bool {
					if route != "GET contents" || f.calls[route] != 1 {
						return false
					}
					w.Header().Set("Retry-After", "0")
					provJSON(w, http.StatusForbidden, map[string]any{"message": "You have exceeded a secondary rate limit.",
						"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"})
					return true
				}
			},
			check: func(t *testing.T, f *provFakeGitHub, _ string, res CommitResult, err error) {
				require.NoError(t, err)
				require.True(t, res.Changed)
				require.Equal(t, 2, f.count("GET contents"))
			},
		},
		{
			name: "429 too many requests is waited out", branch: "main", change: bump,
			intercept: func(f *provFakeGitHub) func(w http.ResponseWriter, r *http.Request, route string) bool {
				return func(w http.ResponseWriter, r *http.Request, route string) bool {
					if route != "PUT contents" || f.calls[route] != 1 {
						return false
					}
					w.Header().Set("Retry-After", "0")
					provJSON(w, http.StatusTooManyRequests, map[string]any{"message": "Too many requests"})
					return true
				}
			},
			check: func(t *testing.T, f *provFakeGitHub, _ string, res CommitResult, err error) {
				require.NoError(t, err)
				require.True(t, res.Changed)
				require.Equal(t, 2, f.count("PUT contents"))
			},
		},
		{
			name: "a server that keeps failing gives up", branch: "main", change: bump,
			intercept: func(*provFakeGitHub) func(w http.ResponseWriter, r *http.Request, route string) bool {
				return func(w http.ResponseWriter, _ *http.Request, _ string) bool {
					provJSON(w, http.StatusServiceUnavailable, map[string]any{"message": "Unavailable"})
					return true
				}
			},
			check: func(t *testing.T, f *provFakeGitHub, _ string, _ CommitResult, err error) {
				require.ErrorContains(t, err, "giving up after")
				require.NotErrorIs(t, err, ErrAuth)
				require.Equal(t, provFastRetry.attempts, f.count("GET ref"))
			},
		},
		{
			name: "an unknown branch is ErrNotFound", branch: "release", change: bump,
			check: func(t *testing.T, _ *provFakeGitHub, _ string, _ CommitResult, err error) {
				require.ErrorIs(t, err, ErrNotFound)
				require.ErrorIs(t, err, ErrUnknownBranch)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := provNewFakeGitHub(t)
			if tc.intercept != nil {
				f.intercept = tc.intercept(f)
			}
			seed := f.head("main").sha
			res, err := provGitHubProvider(t, f).Commit(context.Background(), tc.branch, tc.change)
			tc.check(t, f, seed, res, err)
		})
	}
}

func TestGitHubProviderPropose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	change := Change{Path: provProdApp, Edit: provImage("idp/localtime:v1.2.3"), Message: "promote time-service v1.2.3 to prod\n\nworkflow: promote-time-service-v1.2.3\n"}
	const head = "idp/promote-time-service-v1.2.3-prod"

	t.Run("a second call finds the branch and pull request", func(t *testing.T) {
		t.Parallel()
		f := provNewFakeGitHub(t)
		p := provGitHubProvider(t, f)
		seed := f.head("main").sha

		first, err := p.Propose(ctx, "main", head, change, "Promote time-service v1.2.3 to prod", "Waiting for approval")
		require.NoError(t, err)
		require.Equal(t, Proposal{Base: "main", Head: head, Commit: f.head(head).sha, Number: 1,
			URL: "https://github.test/acme/platform/pull/1"}, first)
		require.Equal(t, seed, f.head("main").sha, "base untouched")
		require.Equal(t, []string{seed}, f.head(head).parents)
		require.Equal(t, change.Message, f.head(head).message)

		second, err := p.Propose(ctx, "main", head, change, "Promote time-service v1.2.3 to prod", "Waiting for approval")
		require.NoError(t, err)
		require.Equal(t, first, second)
		require.Len(t, f.pulls, 1)
		require.Equal(t, 1, f.count("POST pulls"))
		require.Equal(t, 1, f.count("POST refs"))
		require.Equal(t, 1, f.count("PUT contents"))

		require.NoError(t, p.UpdateProposal(ctx, first, "Approved by bob"))
		require.Equal(t, "Approved by bob", f.pulls[0].body)
	})

	t.Run("a retry after a failure between branch and pull request finishes the job", func(t *testing.T) {
		t.Parallel()
		f := provNewFakeGitHub(t)
		f.intercept = func(w http.ResponseWriter, _ *http.Request, route string) bool {
			if route == "POST pulls" && f.calls[route] == 1 {
				provJSON(w, http.StatusBadGateway, map[string]any{"message": "Server Error"})
				return true
			}
			return false
		}
		prop, err := provGitHubProvider(t, f).Propose(ctx, "main", head, change, "t", "b")
		require.NoError(t, err)
		require.Equal(t, 1, prop.Number)
		require.Len(t, f.pulls, 1)
		require.Equal(t, 1, f.count("POST refs"))
		require.Equal(t, 1, f.count("PUT contents"))
	})

	t.Run("nothing to propose when base already has the change", func(t *testing.T) {
		t.Parallel()
		f := provNewFakeGitHub(t)
		noop := Change{Path: provProdApp, Edit: provImage("idp/localtime:v1.0.0"), Message: "noop"}
		p := provGitHubProvider(t, f)
		prop, err := p.Propose(ctx, "main", head, noop, "t", "b")
		require.NoError(t, err)
		require.Equal(t, Proposal{Base: "main", Commit: f.head("main").sha}, prop)
		require.Empty(t, f.pulls)
		require.NoError(t, p.UpdateProposal(ctx, prop, "x"))
		res, err := p.Merge(ctx, prop)
		require.NoError(t, err)
		require.Equal(t, CommitResult{Commit: prop.Commit}, res)
	})
}

func TestGitHubProviderMerge(t *testing.T) {
	t.Parallel()
	change := Change{Path: provProdApp, Edit: provImage("idp/localtime:v1.2.3"), Message: "promote time-service v1.2.3 to prod\n\nworkflow: promote-time-service-v1.2.3"}
	const head = "idp/promote-time-service-v1.2.3-prod"
	tests := []struct {
		name  string
		setup func(f *provFakeGitHub, prop Proposal) // runs between Propose and Merge, holding mu
		check func(t *testing.T, f *provFakeGitHub, p *githubProvider, prop Proposal, res CommitResult, err error)
	}{
		{
			name: "squash-merges with the proposal's message; a second merge returns the same commit",
			check: func(t *testing.T, f *provFakeGitHub, p *githubProvider, prop Proposal, res CommitResult, err error) {
				require.NoError(t, err)
				base := f.head("main")
				require.Equal(t, CommitResult{Commit: base.sha, Changed: true}, res)
				require.Equal(t, "promote time-service v1.2.3 to prod (#1)\n\nworkflow: promote-time-service-v1.2.3", base.message)
				require.Contains(t, base.files[provProdApp], "v1.2.3")
				again, err := p.Merge(context.Background(), prop)
				require.NoError(t, err)
				require.Equal(t, res, again)
				require.Equal(t, 1, f.count("PUT merge"))
			},
		},
		{
			name: "a pull request someone already merged returns its merge commit",
			setup: func(f *provFakeGitHub, _ Proposal) {
				f.pulls[0].merged, f.pulls[0].state, f.pulls[0].mergeSHA = true, "closed", "0123456789abcdef0123456789abcdef01234567"
			},
			check: func(t *testing.T, f *provFakeGitHub, _ *githubProvider, _ Proposal, res CommitResult, err error) {
				require.NoError(t, err)
				require.Equal(t, CommitResult{Commit: "0123456789abcdef0123456789abcdef01234567", Changed: true}, res)
				require.Zero(t, f.count("PUT merge"))
			},
		},
		{
			name: "a base that moved on gets merged into the branch first",
			setup: func(f *provFakeGitHub, _ Proposal) {
				f.strict = true
				f.commitFile("main", provDevApp, "name: time-service\nimage: idp/localtime:sha-7654321\n", "dev")
			},
			check: func(t *testing.T, f *provFakeGitHub, _ *githubProvider, _ Proposal, res CommitResult, err error) {
				require.NoError(t, err)
				require.Equal(t, 1, f.count("PUT update-branch"))
				base := f.head("main")
				require.Equal(t, res.Commit, base.sha)
				require.Contains(t, base.files[provDevApp], "sha-7654321")
				require.Contains(t, base.files[provProdApp], "v1.2.3")
			},
		},
		{
			name: "a base that changed the same file is not mergeable",
			setup: func(f *provFakeGitHub, _ Proposal) {
				f.strict = true
				f.commitFile("main", provProdApp, "name: time-service\nimage: idp/localtime:v9.9.9\n", "hotfix")
			},
			check: func(t *testing.T, f *provFakeGitHub, _ *githubProvider, _ Proposal, _ CommitResult, err error) {
				require.ErrorIs(t, err, ErrNotMergeable)
				require.Contains(t, f.file("main", provProdApp), "v9.9.9")
			},
		},
		{
			name:  "a closed pull request is not mergeable",
			setup: func(f *provFakeGitHub, _ Proposal) { f.pulls[0].state = "closed" },
			check: func(t *testing.T, _ *provFakeGitHub, _ *githubProvider, _ Proposal, _ CommitResult, err error) {
				require.ErrorIs(t, err, ErrNotMergeable)
			},
		},
		{
			name:  "a disabled merge method falls back to the next",
			setup: func(f *provFakeGitHub, _ Proposal) { f.disabled["squash"] = true },
			check: func(t *testing.T, f *provFakeGitHub, _ *githubProvider, prop Proposal, res CommitResult, err error) {
				require.NoError(t, err)
				base := f.head("main")
				require.Equal(t, res.Commit, base.sha)
				require.Equal(t, []string{base.parents[0], prop.Commit}, base.parents, "a merge commit")
				require.Contains(t, base.message, "workflow: promote-time-service-v1.2.3")
			},
		},
		{
			name:  "an unknown pull request is ErrNotFound",
			setup: func(f *provFakeGitHub, _ Proposal) { f.pulls = nil },
			check: func(t *testing.T, _ *provFakeGitHub, _ *githubProvider, _ Proposal, _ CommitResult, err error) {
				require.ErrorIs(t, err, ErrNotFound)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := provNewFakeGitHub(t)
			p := provGitHubProvider(t, f)
			prop, err := p.Propose(ctx, "main", head, change, "Promote", "body")
			require.NoError(t, err)
			if tc.setup != nil {
				f.mu.Lock()
				tc.setup(f, prop)
				f.mu.Unlock()
			}
			res, err := p.Merge(ctx, prop)
			tc.check(t, f, p, prop, res, err)
		})
	}
}

func TestGitHubProviderAuthErrors(t *testing.T) {
	f := provNewFakeGitHub(t)
	const leaked = "ghp_this_token_must_never_show_up"
	t.Setenv("IDP_GITHUB_APP_ID", "")
	t.Setenv("GITHUB_TOKEN", "")
	t.Setenv("IDP_GIT_TOKEN", leaked)
	t.Setenv("IDP_GITHUB_API_URL", f.srv.URL)
	prov, err := NewProvider(provRepoConfig("github", "https://github.com/acme/platform.git", "acme/platform"))
	require.NoError(t, err)
	p := prov.(*githubProvider)
	p.retry = provFastRetry

	_, err = p.Commit(context.Background(), "main", Change{Path: provProdApp, Edit: provImage("x"), Message: "m"})
	require.ErrorIs(t, err, ErrAuth)
	require.NotContains(t, err.Error(), leaked)
	require.Equal(t, 1, f.count("GET ref"), "refused credentials are not retried")

	_, err = p.Propose(context.Background(), "main", "h", Change{Path: provProdApp, Edit: provImage("x"), Message: "m"}, "t", "b")
	require.ErrorIs(t, err, ErrAuth)
	require.NotContains(t, err.Error(), leaked)

	// With the right token, a repository that does not exist (or that the token cannot see).
	f.token = leaked
	other, err := NewProvider(provRepoConfig("github", "", "acme/missing"))
	require.NoError(t, err)
	_, err = other.Commit(context.Background(), "main", Change{Path: provProdApp, Edit: provImage("x"), Message: "m"})
	require.ErrorIs(t, err, ErrNotFound)
	require.NotContains(t, err.Error(), leaked)
}

func TestGitHubProviderAppAuth(t *testing.T) {
	f := provNewFakeGitHub(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	keyFile := filepath.Join(t.TempDir(), "app.pem")
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600))
	f.appID, f.appKey, f.appToken, f.token = "123", &key.PublicKey, "ghs_installation_token", "ghs_installation_token"

	t.Setenv("IDP_GIT_TOKEN", "")
	t.Setenv("GITHUB_TOKEN", "")
	t.Setenv("IDP_GITHUB_API_URL", f.srv.URL+"/")
	t.Setenv("IDP_GITHUB_APP_ID", "123")
	t.Setenv("IDP_GITHUB_APP_PRIVATE_KEY_FILE", keyFile)
	t.Setenv("IDP_GITHUB_APP_INSTALLATION_ID", "42")
	prov, err := NewProvider(provRepoConfig("github", "", "acme/platform"))
	require.NoError(t, err)
	for _, img := range []string{"a", "b"} {
		res, err := prov.Commit(context.Background(), "main", Change{Path: provDevApp, Edit: provImage(img), Message: img})
		require.NoError(t, err)
		require.True(t, res.Changed)
	}
	require.Equal(t, 1, f.count("POST app-token"), "the installation token is cached")

	t.Setenv("IDP_GITHUB_APP_INSTALLATION_ID", "7")
	prov, err = NewProvider(provRepoConfig("github", "", "acme/platform"))
	require.NoError(t, err)
	_, err = prov.Commit(context.Background(), "main", Change{Path: provDevApp, Edit: provImage("c"), Message: "c"})
	require.ErrorIs(t, err, ErrAuth)
}

func TestGitHubSlugFromURL(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]string{
		"https://github.com/acme/platform.git": "acme/platform",
		"https://github.com/acme/platform":     "acme/platform",
		"git@github.com:acme/platform.git":     "acme/platform",
		"https://gitlab.com/acme/platform":     "",
		"https://github.com/acme":              "",
	} {
		require.Equal(t, want, slugFromURL(url), url)
	}
}
