package githubtest

import (
	"cmp"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// WriteJSON answers with status and v as JSON, as GitHub does; an Intercept uses it too.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func decode(r *http.Request, v any) { _ = json.NewDecoder(r.Body).Decode(v) }

func blobSHA(content string) string {
	h := sha1.Sum([]byte(fmt.Sprintf("blob %d\x00%s", len(content), content)))
	return hex.EncodeToString(h[:])
}

// NewCommit stores a commit and returns its sha (callers hold Mu, or own f exclusively).
func (f *Server) NewCommit(msg string, parents []string, files map[string]string) string {
	f.seq++
	h := sha1.Sum([]byte(fmt.Sprint(f.seq, msg, parents)))
	c := &Commit{SHA: hex.EncodeToString(h[:]), Message: msg, Parents: parents, Files: map[string]string{}}
	for k, v := range files {
		c.Files[k] = v
	}
	f.Commits[c.SHA] = c
	return c.SHA
}

// CommitFile writes one file on branch as someone else would (callers hold Mu).
func (f *Server) CommitFile(branch, path, content, msg string) {
	tip := f.Commits[f.Branches[branch]]
	files := map[string]string{}
	for k, v := range tip.Files {
		files[k] = v
	}
	files[path] = content
	f.Branches[branch] = f.NewCommit(msg, []string{tip.SHA}, files)
}

func (f *Server) Ancestors(sha string) map[string]bool {
	seen := map[string]bool{}
	queue := []string{sha}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if seen[s] {
			continue
		}
		seen[s] = true
		queue = append(queue, f.Commits[s].Parents...)
	}
	return seen
}

// merge3 merges the files of head into base file by file from their merge base.
func (f *Server) merge3(base, head string) (map[string]string, bool) {
	inBase := f.Ancestors(base)
	mb := ""
	queue := []string{head}
	for len(queue) > 0 && mb == "" {
		s := queue[0]
		queue = queue[1:]
		if inBase[s] {
			mb = s
		}
		queue = append(queue, f.Commits[s].Parents...)
	}
	b, h, m := f.Commits[base].Files, f.Commits[head].Files, f.Commits[mb].Files
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

func (f *Server) pull(r *http.Request) *Pull {
	n, _ := strconv.Atoi(r.PathValue("n"))
	for _, p := range f.Pulls {
		if p.Number == n {
			return p
		}
	}
	return nil
}

func (f *Server) pullJSON(p *Pull) map[string]any {
	head, base := f.Branches[p.Head], f.Branches[p.Base]
	mergeable := "clean"
	if _, ok := f.merge3(base, head); !ok {
		mergeable = "dirty"
	} else if f.Strict && !f.Ancestors(head)[base] {
		mergeable = "behind"
	}
	return map[string]any{
		"number": p.Number, "state": p.State, "title": p.Title, "body": p.Body, "merged": p.Merged, "mergeable_state": mergeable,
		"merge_commit_sha": p.MergeSHA, "html_url": fmt.Sprintf("https://github.test/%s/%s/pull/%d", f.Owner, f.Repo, p.Number),
		"head": map[string]any{"ref": p.Head, "sha": f.Branches[p.Head], "repo": map[string]any{"full_name": cmp.Or(p.Fork, f.Owner+"/"+f.Repo)}},
		"base": map[string]any{"ref": p.Base, "sha": f.Branches[p.Base]},
	}
}

func (f *Server) refJSON(branch string) map[string]any {
	return map[string]any{"ref": "refs/heads/" + branch, "object": map[string]any{"type": "commit", "sha": f.Branches[branch]}}
}
