package githubtest

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

type review struct {
	id                   int64
	login, state, commit string
	submitted            time.Time
}

// Review adds a submitted review of pull request n, as a reviewer would.
func (f *Server) Review(n int, login, state, commit string) int64 {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.seq++
	r := review{id: int64(1000 + f.seq), login: login, state: state, commit: commit,
		submitted: time.Date(2025, 1, 2, 3, 4, f.seq%60, 0, time.UTC)}
	f.reviews[n] = append(f.reviews[n], r)
	return r.id
}

// listReviews answers GET .../pulls/{n}/reviews a page at a time, with GitHub's Link header.
func (f *Server) listReviews(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.PathValue("n"))
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 || per > f.ReviewsPerPage {
		per = f.ReviewsPerPage
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	all := f.reviews[n]
	out := []map[string]any{}
	for i := (page - 1) * per; i < len(all) && i < page*per; i++ {
		rv := all[i]
		out = append(out, map[string]any{"id": rv.id, "user": map[string]any{"login": rv.login}, "state": rv.state,
			"commit_id": rv.commit, "submitted_at": rv.submitted.Format(time.RFC3339),
			"html_url": fmt.Sprintf("https://github.test/%s/%s/pull/%d#pullrequestreview-%d", f.Owner, f.Repo, n, rv.id)})
	}
	if page*per < len(all) {
		next := *r.URL
		q := next.Query()
		q.Set("page", strconv.Itoa(page+1))
		next.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, f.URL, next.String()))
	}
	WriteJSON(w, http.StatusOK, out)
}
