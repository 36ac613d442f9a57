package github

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// provFakeDeploy is one deployment the fake GitHub holds, with the states of its statuses in
// the order they were set.
type provFakeDeploy struct {
	id                   int64
	sha, ref, env, task  string
	payload              json.RawMessage
	autoMerge            *bool
	requiredContexts     *[]string
	statuses, statusEnvs []string
	statusDescs          []string
}

func (f *provFakeGitHub) handleDeployments(mux *http.ServeMux, repo string) {
	f.handle(mux, "GET deployments", "GET "+repo+"/deployments", f.listDeployments)
	f.handle(mux, "POST deployments", "POST "+repo+"/deployments", f.createDeployment)
	f.handle(mux, "POST deployment status", "POST "+repo+"/deployments/{id}/statuses", f.createDeploymentStatus)
}

func (f *provFakeGitHub) deployJSON(d *provFakeDeploy) map[string]any {
	return map[string]any{"id": d.id, "sha": d.sha, "ref": d.ref, "environment": d.env, "task": d.task, "payload": d.payload}
}

// listDeployments filters as GitHub does: by sha, ref, task and environment, newest first.
func (f *provFakeGitHub) listDeployments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out := []map[string]any{}
	for i := len(f.deploys) - 1; i >= 0; i-- {
		d := f.deploys[i]
		if (q.Get("sha") == "" || q.Get("sha") == d.sha) && (q.Get("ref") == "" || q.Get("ref") == d.ref) &&
			(q.Get("task") == "" || q.Get("task") == d.task) && (q.Get("environment") == "" || q.Get("environment") == d.env) {
			out = append(out, f.deployJSON(d))
		}
	}
	provJSON(w, http.StatusOK, out)
}

func (f *provFakeGitHub) createDeployment(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Ref              string          `json:"ref"`
		Task             string          `json:"task"`
		Environment      string          `json:"environment"`
		Payload          json.RawMessage `json:"payload"`
		AutoMerge        *bool           `json:"auto_merge"`
		RequiredContexts *[]string       `json:"required_contexts"`
	}
	provDecode(r, &in)
	sha := in.Ref
	if b, ok := f.branches[in.Ref]; ok {
		sha = b
	}
	if f.commits[sha] == nil {
		provJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "No ref found for: " + in.Ref})
		return
	}
	task := in.Task
	if task == "" {
		task = "deploy"
	}
	d := &provFakeDeploy{id: int64(1000 + len(f.deploys)), sha: sha, ref: in.Ref, env: in.Environment, task: task,
		payload: in.Payload, autoMerge: in.AutoMerge, requiredContexts: in.RequiredContexts}
	f.deploys = append(f.deploys, d)
	provJSON(w, http.StatusCreated, f.deployJSON(d))
}

func (f *provFakeGitHub) createDeploymentStatus(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var in struct{ State, Description, Environment string }
	provDecode(r, &in)
	for _, d := range f.deploys {
		if d.id == id {
			d.statuses = append(d.statuses, in.State)
			d.statusEnvs = append(d.statusEnvs, in.Environment)
			d.statusDescs = append(d.statusDescs, in.Description)
			provJSON(w, http.StatusCreated, map[string]any{"id": id*10 + int64(len(d.statuses)), "state": in.State})
			return
		}
	}
	provJSON(w, http.StatusNotFound, provNotFound)
}

// deployments returns a copy of the deployments, oldest first.
func (f *provFakeGitHub) deployments() []provFakeDeploy {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]provFakeDeploy, 0, len(f.deploys))
	for _, d := range f.deploys {
		out = append(out, *d)
	}
	return out
}
