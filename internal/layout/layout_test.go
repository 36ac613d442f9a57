package layout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/alexpermiakov/idp"

// pkg is what `go list -json` says about one package of the module.
type pkg struct {
	ImportPath string
	Dir        string
	Imports    []string
	Deps       []string
	GoFiles    []string
}

var (
	listOnce sync.Once
	listed   []pkg
	listErr  error
)

// list returns the module's packages, asking go list once per test binary.
func list(t *testing.T) []pkg {
	t.Helper()
	listOnce.Do(func() { listed, listErr = goList() })
	require.NoError(t, listErr)
	require.NotEmpty(t, listed)
	return listed
}

func goList() ([]pkg, error) {
	cmd := exec.Command("go", "list", "-json", "-deps=false", module+"/...")
	cmd.Dir = filepath.Join("..", "..")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			return pkgs, nil
		} else if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
}

// rel is the package path inside the module ("activities/aws"), or "" for other modules.
func rel(path string) string {
	if path == module {
		return "."
	}
	r, ok := strings.CutPrefix(path, module+"/")
	if !ok {
		return ""
	}
	return r
}

// system is the external system an activities/<system>/... package belongs to.
func system(r string) string {
	parts := strings.Split(r, "/")
	if len(parts) >= 2 && parts[0] == "activities" {
		return parts[1]
	}
	return ""
}

// command is the cmd/<name> a package belongs to, or "".
func command(r string) string {
	parts := strings.Split(r, "/")
	if len(parts) >= 2 && parts[0] == "cmd" {
		return parts[1]
	}
	return ""
}

// forbidden says why package from may not import to, or "" when it may.
func forbidden(from, to string) string {
	switch {
	case strings.HasPrefix(to, "cmd/") && command(from) != command(to):
		return "only a command itself imports its packages"
	case system(from) != "" && system(to) != "" && system(from) != system(to):
		return "an activity package never imports a sibling: share through internal/ or inject an interface from cmd/worker"
	case system(from) != "" && strings.HasPrefix(to, "workflows"):
		return "activities do not know the workflows that call them"
	case strings.HasPrefix(from, "internal/") && strings.HasPrefix(to, "activities/"):
		return "internal/ imports no activity package"
	case strings.HasPrefix(from, "internal/") && to == "workflows":
		return "internal/ may use the workflows' types (workflows/api), never the workflows themselves"
	case from == "workflows/api" && to != "" && !strings.HasPrefix(to, "internal/"):
		return "workflows/api is types and names only"
	}
	return ""
}

// TestImportsFlowOneWay fails when a package imports, directly or through others, a package
// its layer may not depend on.
func TestImportsFlowOneWay(t *testing.T) {
	pkgs := list(t)
	deps := map[string][]string{}
	for _, p := range pkgs {
		deps[p.ImportPath] = p.Imports
	}
	var problems []string
	for _, p := range pkgs {
		from := rel(p.ImportPath)
		// Walk the package's transitive imports inside the module, remembering one path to each.
		via := map[string]string{}
		queue := []string{p.ImportPath}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			for _, imp := range deps[cur] {
				if rel(imp) == "" || via[imp] != "" || imp == p.ImportPath {
					continue
				}
				via[imp] = cur
				queue = append(queue, imp)
			}
		}
		for imp := range via {
			to := rel(imp)
			if why := forbidden(from, to); why != "" {
				chain := to
				for at := via[imp]; at != p.ImportPath; at = via[at] {
					chain = rel(at) + " → " + chain
				}
				problems = append(problems, fmt.Sprintf("%s → %s: %s", from, chain, why))
			}
		}
	}
	require.Empty(t, problems, "imports against the layout (README, Layout):\n%s", strings.Join(problems, "\n"))
}

// TestForbiddenIsStrictEnough checks the rules themselves on examples, so a typo in them
// cannot let everything through.
func TestForbiddenIsStrictEnough(t *testing.T) {
	for _, c := range []struct{ from, to string }{
		{"activities/argocd", "activities/aws"},
		{"activities/git/github", "activities/aws"},
		{"activities/terraform", "workflows"},
		{"internal/cli", "workflows"},
		{"internal/cli", "activities/platform"},
		{"workflows/api", "workflows"},
		{"workflows", "cmd/worker/setup"},
		{"cmd/starter", "cmd/sandbox/stack"},
	} {
		require.NotEmpty(t, forbidden(c.from, c.to), "%s → %s must be refused", c.from, c.to)
	}
	for _, c := range []struct{ from, to string }{
		{"activities/git/github", "activities/git"},
		{"activities/argocd", "internal/config"},
		{"internal/cli", "workflows/api"},
		{"workflows", "activities/aws"},
		{"cmd/worker/setup", "activities/aws"},
		{"cmd/sandbox", "cmd/sandbox/stack"},
	} {
		require.Empty(t, forbidden(c.from, c.to), "%s → %s is allowed", c.from, c.to)
	}
}

// Limits past which code stops reading well: a file a person can hold in mind, a function
// that fits on a screen. Tests are exempt: a table of cases is long by nature.
const (
	maxFileLines = 450
	maxFuncLines = 70
)

// TestFilesAndFunctionsStaySmall fails when a non-test Go file or function grows past the
// limits; split it where it reads better.
func TestFilesAndFunctionsStaySmall(t *testing.T) {
	var problems []string
	fset := token.NewFileSet()
	for _, p := range list(t) {
		for _, name := range p.GoFiles {
			path := filepath.Join(p.Dir, name)
			src, err := os.ReadFile(path)
			require.NoError(t, err)
			if n := bytes.Count(src, []byte("\n")); n > maxFileLines {
				problems = append(problems, fmt.Sprintf("%s: %d lines (limit %d)", rel(p.ImportPath)+"/"+name, n, maxFileLines))
			}
			f, err := parser.ParseFile(fset, path, src, 0)
			require.NoError(t, err)
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				if n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1; n > maxFuncLines {
					problems = append(problems, fmt.Sprintf("%s: func %s is %d lines (limit %d)", rel(p.ImportPath)+"/"+name, fd.Name.Name, n, maxFuncLines))
				}
			}
		}
	}
	require.Empty(t, problems, "too long to read well:\n%s", strings.Join(problems, "\n"))
}
