package githubtest

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Deployment is one deployment the fake GitHub holds, with the states of its statuses in
// the order they were set.
type Deployment struct {
	ID                   int64
	SHA, Ref, Env, Task  string
	Payload              json.RawMessage
	AutoMerge            *bool
	RequiredContexts     *[]string
	Statuses, StatusEnvs []string
	StatusDescs          []string
}

func (f *Server) handleDeployments(mux *http.ServeMux, repo string) {
	f.handle(mux, "GET deployments", "GET "+repo+"/deployments", f.listDeployments)
	f.handle(mux, "POST deployments", "POST "+repo+"/deployments", f.createDeployment)
	f.handle(mux, "POST deployment status", "POST "+repo+"/deployments/{id}/statuses", f.createDeploymentStatus)
}

func (f *Server) deployJSON(d *Deployment) map[string]any {
	return map[string]any{"id": d.ID, "sha": d.SHA, "ref": d.Ref, "environment": d.Env, "task": d.Task, "payload": d.Payload}
}

// listDeployments filters as GitHub does: by sha, ref, task and environment, newest first.
func (f *Server) listDeployments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out := []map[string]any{}
	for i := len(f.deploys) - 1; i >= 0; i-- {
		d := f.deploys[i]
		if (q.Get("sha") == "" || q.Get("sha") == d.SHA) && (q.Get("ref") == "" || q.Get("ref") == d.Ref) &&
			(q.Get("task") == "" || q.Get("task") == d.Task) && (q.Get("environment") == "" || q.Get("environment") == d.Env) {
			out = append(out, f.deployJSON(d))
		}
	}
	WriteJSON(w, http.StatusOK, out)
}

func (f *Server) createDeployment(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Ref              string          `json:"ref"`
		Task             string          `json:"task"`
		Environment      string          `json:"environment"`
		Payload          json.RawMessage `json:"payload"`
		AutoMerge        *bool           `json:"auto_merge"`
		RequiredContexts *[]string       `json:"required_contexts"`
	}
	decode(r, &in)
	sha := in.Ref
	if b, ok := f.Branches[in.Ref]; ok {
		sha = b
	}
	if f.Commits[sha] == nil {
		WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "No ref found for: " + in.Ref})
		return
	}
	task := in.Task
	if task == "" {
		task = "deploy"
	}
	d := &Deployment{ID: int64(1000 + len(f.deploys)), SHA: sha, Ref: in.Ref, Env: in.Environment, Task: task,
		Payload: in.Payload, AutoMerge: in.AutoMerge, RequiredContexts: in.RequiredContexts}
	f.deploys = append(f.deploys, d)
	WriteJSON(w, http.StatusCreated, f.deployJSON(d))
}

func (f *Server) createDeploymentStatus(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var in struct{ State, Description, Environment string }
	decode(r, &in)
	for _, d := range f.deploys {
		if d.ID == id {
			d.Statuses = append(d.Statuses, in.State)
			d.StatusEnvs = append(d.StatusEnvs, in.Environment)
			d.StatusDescs = append(d.StatusDescs, in.Description)
			WriteJSON(w, http.StatusCreated, map[string]any{"id": id*10 + int64(len(d.Statuses)), "state": in.State})
			return
		}
	}
	WriteJSON(w, http.StatusNotFound, notFound)
}

// Deployments returns a copy of the deployments, oldest first.
func (f *Server) Deployments() []Deployment {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	out := make([]Deployment, 0, len(f.deploys))
	for _, d := range f.deploys {
		out = append(out, *d)
	}
	return out
}
