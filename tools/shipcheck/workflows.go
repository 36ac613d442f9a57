package shipcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/rhysd/actionlint"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"
)

// PlatformRepository is the repository that holds idp.yaml and cmd/starter.
const PlatformRepository = "alexpermiakov/idp"

// WorkflowFiles returns the workflow files under dir (.github/workflows), sorted.
func WorkflowFiles(dir string) ([]string, error) {
	var out []string
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return nil, err
		}
		out = append(out, m...)
	}
	sort.Strings(out)
	return out, nil
}

// ParseWorkflow reads a workflow file with actionlint's parser.
func ParseWorkflow(path string) (*actionlint.Workflow, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	w, errs := actionlint.Parse(b)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %s", path, errs[0].Error())
	}
	return w, nil
}

// Lint runs actionlint on the files with its default rules. shellcheck and pyflakes are off on
// purpose (they are not Go modules, and `make test` fetches nothing else); the tests parse every
// run script as bash with mvdan.cc/sh instead.
func Lint(workDir string, files []string) ([]*actionlint.Error, error) {
	l, err := actionlint.NewLinter(os.Stderr, &actionlint.LinterOptions{WorkingDir: workDir, Shellcheck: "", Pyflakes: ""})
	if err != nil {
		return nil, err
	}
	return l.LintFiles(files, nil)
}

var (
	commitPinned = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[^@]+)?@[0-9a-f]{40}$`)
	dockerPinned = regexp.MustCompile(`^docker://[^@\s]+@sha256:[0-9a-f]{64}$`)
	expression   = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)
)

// UnpinnedUses lists every `uses:` of a step or job that is neither local (./) nor pinned to a
// full commit SHA (an image: to a digest).
func UnpinnedUses(w *actionlint.Workflow) []string {
	var out []string
	check := func(where, uses string) {
		switch {
		case strings.HasPrefix(uses, "./"), commitPinned.MatchString(uses), dockerPinned.MatchString(uses):
		default:
			out = append(out, fmt.Sprintf("%s: uses %s is not pinned to a full commit SHA", where, uses))
		}
	}
	for _, id := range sortedJobs(w) {
		job := w.Jobs[id]
		if job.WorkflowCall != nil && job.WorkflowCall.Uses != nil {
			check("job "+id, job.WorkflowCall.Uses.Value)
		}
		for i, st := range job.Steps {
			if a, ok := st.Exec.(*actionlint.ExecAction); ok {
				check(fmt.Sprintf("job %s step %d", id, i+1), a.Uses.Value)
			}
		}
	}
	return out
}

// ActionStep returns the inputs of a step that uses the action (owner/repo), or nil.
func ActionStep(st *actionlint.Step, action string) map[string]string {
	a, ok := st.Exec.(*actionlint.ExecAction)
	if !ok || !strings.HasPrefix(a.Uses.Value, action+"@") {
		return nil
	}
	out := map[string]string{}
	for k, in := range a.Inputs {
		if in.Value != nil {
			out[k] = in.Value.Value
		}
	}
	return out
}

// Invocation is one command line of a run script, expanded as bash would with one set of
// sample values for the step's environment.
type Invocation struct {
	Job  string
	Step int
	Args []string
	// Env is the step's environment with those sample values.
	Env map[string]string
}

// Samples gives the values an expression stands for in a check; nil means unknown.
type Samples func(expr string) []string

// Invocations finds every call of the command (by base name) in the run scripts of w, and
// expands its arguments once for every combination of sample values of the expressions in the
// workflow's, job's and step's env.
func Invocations(w *actionlint.Workflow, command string, samples Samples) ([]Invocation, error) {
	var out []Invocation
	for _, id := range sortedJobs(w) {
		job := w.Jobs[id]
		for i, st := range job.Steps {
			run, ok := st.Exec.(*actionlint.ExecRun)
			if !ok || run.Run == nil || !strings.Contains(run.Run.Value, command) {
				continue
			}
			file, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(run.Run.Value), "")
			if err != nil {
				return nil, fmt.Errorf("job %s step %d: %w", id, i+1, err)
			}
			envs, err := stepEnvs(w, job, st, samples)
			if err != nil {
				return nil, fmt.Errorf("job %s step %d: %w", id, i+1, err)
			}
			for _, env := range envs {
				calls, err := calls(file, command, env)
				if err != nil {
					return nil, fmt.Errorf("job %s step %d: %w", id, i+1, err)
				}
				for _, args := range calls {
					out = append(out, Invocation{Job: id, Step: i + 1, Args: args, Env: env})
				}
			}
		}
	}
	return out, nil
}

// stepEnvs is every combination of sample values for the variables a step sees.
func stepEnvs(w *actionlint.Workflow, job *actionlint.Job, st *actionlint.Step, samples Samples) ([]map[string]string, error) {
	vars := map[string]string{}
	for _, e := range []*actionlint.Env{w.Env, job.Env, st.Env} {
		if e == nil {
			continue
		}
		for _, v := range e.Vars {
			vars[v.Name.Value] = v.Value.Value
		}
	}
	envs := []map[string]string{{"GITHUB_WORKSPACE": "/home/runner/work/repo/repo", "RUNNER_TEMP": "/home/runner/work/_temp"}}
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		values, err := expandExpressions(vars[name], samples)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", name, err)
		}
		var next []map[string]string
		for _, env := range envs {
			for _, v := range values {
				e := map[string]string{name: v}
				for k, old := range env {
					e[k] = old
				}
				next = append(next, e)
			}
		}
		envs = next
	}
	return envs, nil
}

// expandExpressions replaces each ${{ expr }} in s by each of its samples.
func expandExpressions(s string, samples Samples) ([]string, error) {
	m := expression.FindStringSubmatchIndex(s)
	if m == nil {
		return []string{s}, nil
	}
	expr := s[m[2]:m[3]]
	values := samples(expr)
	if len(values) == 0 {
		return nil, fmt.Errorf("no sample values for ${{ %s }}", expr)
	}
	rest, err := expandExpressions(s[m[1]:], samples)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range values {
		for _, r := range rest {
			out = append(out, s[:m[0]]+v+r)
		}
	}
	return out, nil
}

// calls returns the expanded arguments of every call of command in file.
func calls(file *syntax.File, command string, env map[string]string) ([][]string, error) {
	pairs := make([]string, 0, len(env))
	for k, v := range env {
		pairs = append(pairs, k+"="+v)
	}
	cfg := &expand.Config{Env: expand.ListEnviron(pairs...), NoUnset: true}
	var out [][]string
	var err error
	syntax.Walk(file, func(n syntax.Node) bool {
		ce, ok := n.(*syntax.CallExpr)
		if !ok || len(ce.Args) == 0 || err != nil {
			return err == nil
		}
		var name string
		if name, err = expand.Literal(cfg, ce.Args[0]); err != nil {
			return false
		}
		if filepath.Base(name) != command {
			return true
		}
		var args []string
		if args, err = expand.Fields(cfg, ce.Args[1:]...); err == nil {
			out = append(out, args)
		}
		return true
	})
	return out, err
}

func sortedJobs(w *actionlint.Workflow) []string {
	ids := make([]string, 0, len(w.Jobs))
	for id := range w.Jobs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
