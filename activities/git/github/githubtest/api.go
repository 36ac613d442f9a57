package githubtest

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

var notFound = map[string]any{"message": "Not Found"}

func (f *Server) getRef(w http.ResponseWriter, r *http.Request) {
	b := r.PathValue("branch")
	if _, ok := f.Branches[b]; !ok {
		WriteJSON(w, http.StatusNotFound, notFound)
		return
	}
	WriteJSON(w, http.StatusOK, f.refJSON(b))
}

func (f *Server) createRef(w http.ResponseWriter, r *http.Request) {
	var in struct{ Ref, SHA string }
	decode(r, &in)
	b := strings.TrimPrefix(in.Ref, "refs/heads/")
	if _, ok := f.Branches[b]; ok {
		WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Reference already exists"})
		return
	}
	if f.Commits[in.SHA] == nil {
		WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Object does not exist"})
		return
	}
	f.Branches[b] = in.SHA
	WriteJSON(w, http.StatusCreated, f.refJSON(b))
}

func (f *Server) updateRef(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SHA   string
		Force bool
	}
	decode(r, &in)
	b := r.PathValue("branch")
	f.RefUpdates = append(f.RefUpdates, RefUpdate{Branch: b, Force: in.Force})
	old, ok := f.Branches[b]
	if !ok || f.Commits[in.SHA] == nil {
		WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Reference does not exist"})
		return
	}
	if !in.Force && !f.Ancestors(in.SHA)[old] {
		WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Update is not a fast forward"})
		return
	}
	f.Branches[b] = in.SHA
	WriteJSON(w, http.StatusOK, f.refJSON(b))
}

func (f *Server) getCommit(w http.ResponseWriter, r *http.Request) {
	c := f.Commits[r.PathValue("sha")]
	if c == nil {
		WriteJSON(w, http.StatusNotFound, notFound)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"sha": c.SHA, "message": c.Message})
}

func (f *Server) getContents(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("ref")
	c := f.Commits[ref]
	if c == nil {
		c = f.Commits[f.Branches[ref]]
	}
	content, ok := "", false
	if c != nil {
		content, ok = c.Files[r.PathValue("path")]
	}
	if !ok {
		WriteJSON(w, http.StatusNotFound, notFound)
		return
	}
	// GitHub wraps the base64 at 60 columns.
	enc := base64.StdEncoding.EncodeToString([]byte(content))
	var lines []string
	for len(enc) > 60 {
		lines, enc = append(lines, enc[:60]), enc[60:]
	}
	lines = append(lines, enc)
	WriteJSON(w, http.StatusOK, map[string]any{"type": "file", "encoding": "base64", "path": r.PathValue("path"),
		"content": strings.Join(lines, "\n") + "\n", "sha": blobSHA(content)})
}

func (f *Server) putContents(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Message, Content, SHA, Branch string
		Author                        *struct{ Name, Email string }
	}
	decode(r, &in)
	path := r.PathValue("path")
	tip, ok := f.Branches[in.Branch]
	if !ok {
		WriteJSON(w, http.StatusNotFound, map[string]any{"message": "Branch not found"})
		return
	}
	cur, exists := f.Commits[tip].Files[path]
	switch {
	case exists && in.SHA == "":
		WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Invalid request.\n\n\"sha\" wasn't supplied."})
		return
	case exists && in.SHA != blobSHA(cur), !exists && in.SHA != "":
		WriteJSON(w, http.StatusConflict, map[string]any{"message": fmt.Sprintf("%s does not match %s", path, in.SHA)})
		return
	}
	content, err := base64.StdEncoding.DecodeString(in.Content)
	if err != nil {
		f.t.Errorf("the fake GitHub got content that is not base64: %v", err)
		WriteJSON(w, http.StatusBadRequest, map[string]any{"message": "content is not valid Base64"})
		return
	}
	f.CommitFile(in.Branch, path, string(content), in.Message)
	if in.Author != nil {
		f.Commits[f.Branches[in.Branch]].Author = in.Author.Name + " <" + in.Author.Email + ">"
	}
	sha := f.Branches[in.Branch]
	WriteJSON(w, http.StatusOK, map[string]any{"content": map[string]any{"path": path, "sha": blobSHA(string(content))},
		"commit": map[string]any{"sha": sha, "message": in.Message}})
}

func (f *Server) listPulls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out := []map[string]any{}
	for _, p := range f.Pulls {
		if (q.Get("state") == "" || q.Get("state") == "all" || q.Get("state") == p.State) &&
			(q.Get("head") == "" || q.Get("head") == f.Owner+":"+p.Head) && (q.Get("base") == "" || q.Get("base") == p.Base) {
			out = append(out, f.pullJSON(p))
		}
	}
	WriteJSON(w, http.StatusOK, out)
}

func (f *Server) createPull(w http.ResponseWriter, r *http.Request) {
	var in struct{ Title, Head, Base, Body string }
	decode(r, &in)
	for _, p := range f.Pulls {
		if p.State == "open" && p.Head == in.Head && p.Base == in.Base {
			WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed",
				"errors": []map[string]any{{"message": "A pull request already exists for " + f.Owner + ":" + in.Head + "."}}})
			return
		}
	}
	if _, ok := f.Branches[in.Head]; !ok || f.Branches[in.Head] == f.Branches[in.Base] {
		WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed",
			"errors": []map[string]any{{"message": "No commits between " + in.Base + " and " + in.Head}}})
		return
	}
	p := &Pull{Number: len(f.Pulls) + 1, Head: in.Head, Base: in.Base, Title: in.Title, Body: in.Body, State: "open"}
	f.Pulls = append(f.Pulls, p)
	WriteJSON(w, http.StatusCreated, f.pullJSON(p))
}

func (f *Server) getPull(w http.ResponseWriter, r *http.Request) {
	p := f.pull(r)
	if p == nil {
		WriteJSON(w, http.StatusNotFound, notFound)
		return
	}
	WriteJSON(w, http.StatusOK, f.pullJSON(p))
}

func (f *Server) editPull(w http.ResponseWriter, r *http.Request) {
	p := f.pull(r)
	if p == nil {
		WriteJSON(w, http.StatusNotFound, notFound)
		return
	}
	var in struct{ Title, Body, State *string }
	decode(r, &in)
	if in.Title != nil {
		p.Title = *in.Title
	}
	if in.Body != nil {
		p.Body = *in.Body
	}
	if in.State != nil {
		p.State = *in.State
	}
	WriteJSON(w, http.StatusOK, f.pullJSON(p))
}

func (f *Server) mergePull(w http.ResponseWriter, r *http.Request) {
	p := f.pull(r)
	if p == nil {
		WriteJSON(w, http.StatusNotFound, notFound)
		return
	}
	var in struct {
		CommitTitle   string `json:"commit_title"`
		CommitMessage string `json:"commit_message"`
		MergeMethod   string `json:"merge_method"`
		SHA           string `json:"sha"`
	}
	decode(r, &in)
	f.MergeSHAs = append(f.MergeSHAs, in.SHA)
	head, base := f.Branches[p.Head], f.Branches[p.Base]
	notMergeable := map[string]any{"message": "Pull Request is not mergeable"}
	switch {
	case p.State != "open":
		WriteJSON(w, http.StatusMethodNotAllowed, notMergeable)
		return
	case f.Disabled[in.MergeMethod]:
		WriteJSON(w, http.StatusMethodNotAllowed, map[string]any{"message": strings.ToUpper(in.MergeMethod[:1]) + in.MergeMethod[1:] + " merges are not allowed on this repository."})
		return
	case in.SHA != "" && in.SHA != head:
		WriteJSON(w, http.StatusConflict, map[string]any{"message": "Head branch was modified. Review and try the merge again."})
		return
	case f.Strict && !f.Ancestors(head)[base]:
		WriteJSON(w, http.StatusMethodNotAllowed, map[string]any{"message": "Head branch is out of date. Review and try the merge again."})
		return
	}
	files, ok := f.merge3(base, head)
	if !ok {
		WriteJSON(w, http.StatusMethodNotAllowed, notMergeable)
		return
	}
	title := in.CommitTitle
	if title == "" {
		title = fmt.Sprintf("Merge pull request #%d from %s/%s", p.Number, f.Owner, p.Head)
	}
	msg := title
	if in.CommitMessage != "" {
		msg += "\n\n" + in.CommitMessage
	}
	parents := []string{base}
	if in.MergeMethod == "merge" || in.MergeMethod == "" {
		parents = append(parents, head)
	}
	sha := f.NewCommit(msg, parents, files)
	f.Branches[p.Base] = sha
	p.Merged, p.State, p.MergeSHA = true, "closed", sha
	f.Merges++
	WriteJSON(w, http.StatusOK, map[string]any{"sha": sha, "merged": true, "message": "Pull Request successfully merged"})
}

// compare answers for base...head as GitHub does for a head ahead of (or equal to) base; the
// files are those that differ between the two snapshots.
func (f *Server) compare(w http.ResponseWriter, r *http.Request) {
	base, head, _ := strings.Cut(r.PathValue("basehead"), "...")
	bc, hc := f.Commits[base], f.Commits[head]
	if bc == nil || hc == nil {
		WriteJSON(w, http.StatusNotFound, notFound)
		return
	}
	inBase, inHead := f.Ancestors(base), f.Ancestors(head)
	commits := []map[string]any{}
	for sha := range inHead {
		if !inBase[sha] {
			commits = append(commits, map[string]any{"sha": sha, "commit": map[string]any{"message": f.Commits[sha].Message}})
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
	for path := range union(bc.Files, hc.Files) {
		bv, bok := bc.Files[path]
		hv, hok := hc.Files[path]
		if bv != hv || bok != hok {
			files = append(files, map[string]any{"filename": path})
		}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"status": status, "ahead_by": len(commits), "behind_by": behind,
		"total_commits": len(commits), "commits": commits, "files": files})
}

func union(a, b map[string]string) map[string]bool {
	out := map[string]bool{}
	for _, m := range []map[string]string{a, b} {
		for k := range m {
			out[k] = true
		}
	}
	return out
}

func (f *Server) appInstallationToken(w http.ResponseWriter, r *http.Request) {
	raw := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok, err := jwt.ParseWithClaims(raw, &jwt.RegisteredClaims{}, func(*jwt.Token) (any, error) { return f.AppKey, nil },
		jwt.WithValidMethods([]string{"RS256"}))
	if err != nil || r.PathValue("id") != "42" || tok.Claims.(*jwt.RegisteredClaims).Issuer != f.AppID {
		WriteJSON(w, http.StatusUnauthorized, map[string]any{"message": "A JSON web token could not be decoded"})
		return
	}
	WriteJSON(w, http.StatusCreated, map[string]any{"token": f.AppToken, "expires_at": time.Now().Add(time.Hour).Format(time.RFC3339)})
}
