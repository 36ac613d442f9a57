package github

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/stretchr/testify/require"
)

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
	f.refUpdates = append(f.refUpdates, provRefUpdate{branch: b, force: in.Force})
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
	if in.Author != nil {
		f.commits[f.branches[in.Branch]].author = in.Author.Name + " <" + in.Author.Email + ">"
	}
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
	f.mergeSHAs = append(f.mergeSHAs, in.SHA)
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

// compare answers for base...head as GitHub does for a head ahead of (or equal to) base; the
// files are those that differ between the two snapshots.
func (f *provFakeGitHub) compare(w http.ResponseWriter, r *http.Request) {
	base, head, _ := strings.Cut(r.PathValue("basehead"), "...")
	bc, hc := f.commits[base], f.commits[head]
	if bc == nil || hc == nil {
		provJSON(w, http.StatusNotFound, provNotFound)
		return
	}
	inBase, inHead := f.ancestors(base), f.ancestors(head)
	commits := []map[string]any{}
	for sha := range inHead {
		if !inBase[sha] {
			commits = append(commits, map[string]any{"sha": sha, "commit": map[string]any{"message": f.commits[sha].message}})
		}
	}
	behind := 0
	for sha := range inBase {
		if !inHead[sha] {
			behind++
		}
	}
	status := map[bool]string{true: "ahead", false: "diverged"}[behind == 0]
	if base == head {
		status = "identical"
	}
	files := []map[string]any{}
	for path := range provUnion(bc.files, hc.files) {
		bv, bok := bc.files[path]
		hv, hok := hc.files[path]
		if bv != hv || bok != hok {
			files = append(files, map[string]any{"filename": path})
		}
	}
	provJSON(w, http.StatusOK, map[string]any{"status": status, "ahead_by": len(commits), "behind_by": behind,
		"total_commits": len(commits), "commits": commits, "files": files})
}

func provUnion(a, b map[string]string) map[string]bool {
	out := map[string]bool{}
	for _, m := range []map[string]string{a, b} {
		for k := range m {
			out[k] = true
		}
	}
	return out
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
