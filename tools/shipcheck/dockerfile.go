package shipcheck

import (
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Instruction is one Dockerfile instruction as BuildKit's parser reads it.
type Instruction struct {
	// Cmd is the instruction in lower case ("from", "run", "copy").
	Cmd   string
	Args  []string
	Flags []string
	// JSON reports the exec (JSON array) form.
	JSON bool
	Line int
	// Original is the instruction's text as written.
	Original string
}

// Flag returns the value of --name=value, and whether the flag is set.
func (in Instruction) Flag(name string) (string, bool) {
	for _, f := range in.Flags {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// EnvPairs returns an ENV instruction's variables; BuildKit gives each as name, value and
// separator ("=" or "" for the legacy `ENV name value`).
func (in Instruction) EnvPairs() map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(in.Args); i += 3 {
		out[in.Args[i]] = in.Args[i+1]
	}
	return out
}

// Stage is one FROM and the instructions after it.
type Stage struct {
	Index int
	// Base is the image or earlier stage the stage starts from; Name its AS name ("" if none).
	Base, Name string
	From       Instruction
	Body       []Instruction
}

// Dockerfile is a parsed Dockerfile.
type Dockerfile struct {
	Stages []*Stage
}

// ParseDockerfile reads a Dockerfile with BuildKit's parser.
func ParseDockerfile(r io.Reader) (*Dockerfile, error) {
	res, err := parser.Parse(r)
	if err != nil {
		return nil, err
	}
	df := &Dockerfile{}
	for _, n := range res.AST.Children {
		in := Instruction{Cmd: strings.ToLower(n.Value), Flags: n.Flags, JSON: n.Attributes["json"],
			Line: n.StartLine, Original: n.Original}
		for a := n.Next; a != nil; a = a.Next {
			in.Args = append(in.Args, a.Value)
		}
		if in.Cmd == "from" {
			if len(in.Args) == 0 {
				return nil, fmt.Errorf("line %d: FROM without an image", in.Line)
			}
			st := &Stage{Index: len(df.Stages), Base: in.Args[0], From: in}
			if len(in.Args) == 3 && strings.EqualFold(in.Args[1], "as") {
				st.Name = strings.ToLower(in.Args[2])
			}
			df.Stages = append(df.Stages, st)
			continue
		}
		if len(df.Stages) == 0 {
			continue // ARG before the first FROM
		}
		last := df.Stages[len(df.Stages)-1]
		last.Body = append(last.Body, in)
	}
	if len(df.Stages) == 0 {
		return nil, fmt.Errorf("no FROM instruction")
	}
	return df, nil
}

// Stage returns the stage a FROM or COPY --from refers to (a name or an index), or nil.
func (d *Dockerfile) Stage(ref string, before int) *Stage {
	ref = strings.ToLower(ref)
	for _, st := range d.Stages[:before] {
		if st.Name != "" && st.Name == ref || strconv.Itoa(st.Index) == ref {
			return st
		}
	}
	return nil
}

// Shipped returns the stages that are images of their own: the last one, and every stage no
// later stage builds on or copies from (a --target of the build).
func (d *Dockerfile) Shipped() []*Stage {
	used := map[*Stage]bool{}
	for i, st := range d.Stages {
		if base := d.Stage(st.Base, i); base != nil {
			used[base] = true
		}
		for _, in := range st.Body {
			if from, ok := in.Flag("from"); ok && in.Cmd == "copy" {
				if src := d.Stage(from, i); src != nil {
					used[src] = true
				}
			}
		}
	}
	var out []*Stage
	for i, st := range d.Stages {
		if !used[st] || i == len(d.Stages)-1 {
			out = append(out, st)
		}
	}
	return out
}

// ExternalBase follows a stage's FROM through earlier stages to the image it starts from.
func (d *Dockerfile) ExternalBase(st *Stage) string {
	for {
		base := d.Stage(st.Base, st.Index)
		if base == nil {
			return st.Base
		}
		st = base
	}
}

// Rule is one check a reviewer applies to a Dockerfile.
type Rule struct {
	Name  string
	Check func(d *Dockerfile) []string
}

var (
	digestRef   = regexp.MustCompile(`^[^$\s]+@sha256:[0-9a-f]{64}$`)
	secretName  = regexp.MustCompile(`(?i)(passw(or)?d|secret|token|api_?key|private_?key|credential|access_?key)`)
	secretValue = regexp.MustCompile(`AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|gh[pousr]_[A-Za-z0-9]{20,}`)
	urlSource   = regexp.MustCompile(`^(https?|git|ssh)://|^git@`)
	pipeToShell = regexp.MustCompile(`\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(ba|z|da)?sh\b`)
	rootUser    = regexp.MustCompile(`^(root|0)(:.*)?$`)
)

// Rules are the checks every Dockerfile of this repository passes.
var Rules = []Rule{
	{"base images are pinned by digest", pinnedBases},
	{"shipped images run as a non-root user", nonRootUser},
	{"shipped images have a HEALTHCHECK in exec form", healthcheck},
	{"no ADD of a URL", noAddURL},
	{"no secrets in ENV or ARG", noSecrets},
	{"COPY --from names an earlier stage", copyFromStages},
	{"no download piped into a shell", noPipeToShell},
	{"shipped images carry no Go toolchain", noToolchain},
	{"multi-stage: shipped images copy their build from a stage", multiStage},
	{"apt-get install without recommends, lists removed", aptHygiene},
	{"ENTRYPOINT in exec form", execEntrypoint},
}

// Check applies every rule and returns the problems, each prefixed with its rule.
func Check(d *Dockerfile) []string {
	var out []string
	for _, r := range Rules {
		for _, p := range r.Check(d) {
			out = append(out, r.Name+": "+p)
		}
	}
	return out
}

func pinnedBases(d *Dockerfile) []string {
	var out []string
	for i, st := range d.Stages {
		if st.Base == "scratch" || d.Stage(st.Base, i) != nil {
			continue
		}
		if !digestRef.MatchString(st.Base) {
			out = append(out, fmt.Sprintf("line %d: FROM %s is not a literal image@sha256:<digest>", st.From.Line, st.Base))
		}
	}
	return out
}

func nonRootUser(d *Dockerfile) []string {
	var out []string
	for _, st := range d.Shipped() {
		user := ""
		for _, in := range st.Body {
			if in.Cmd == "user" && len(in.Args) > 0 {
				user = in.Args[0]
			}
		}
		switch {
		case user == "":
			out = append(out, fmt.Sprintf("stage %q: no USER, so it runs as root", stageName(st)))
		case rootUser.MatchString(user) || strings.Contains(user, "$"):
			out = append(out, fmt.Sprintf("stage %q: USER %s is root or not a literal", stageName(st), user))
		}
	}
	return out
}

func healthcheck(d *Dockerfile) []string {
	var out []string
	for _, st := range d.Shipped() {
		var hc *Instruction
		for i := range st.Body {
			if st.Body[i].Cmd == "healthcheck" {
				hc = &st.Body[i]
			}
		}
		switch {
		case hc == nil:
			out = append(out, fmt.Sprintf("stage %q: no HEALTHCHECK", stageName(st)))
		case len(hc.Args) == 0 || !strings.EqualFold(hc.Args[0], "cmd"):
			out = append(out, fmt.Sprintf("line %d: HEALTHCHECK %s does not check anything", hc.Line, strings.Join(hc.Args, " ")))
		case !hc.JSON:
			out = append(out, fmt.Sprintf("line %d: HEALTHCHECK CMD in shell form needs a shell in the image; use [\"binary\", \"arg\"]", hc.Line))
		}
	}
	return out
}

func noAddURL(d *Dockerfile) []string {
	var out []string
	for _, st := range d.Stages {
		for _, in := range st.Body {
			if in.Cmd != "add" {
				continue
			}
			for _, src := range in.Args[:max(len(in.Args)-1, 0)] {
				if urlSource.MatchString(src) {
					out = append(out, fmt.Sprintf("line %d: ADD %s: fetch in a build stage with a checksum, or COPY --from a pinned image", in.Line, src))
				}
			}
		}
	}
	return out
}

func noSecrets(d *Dockerfile) []string {
	var out []string
	for _, st := range d.Stages {
		for _, in := range st.Body {
			var names, values []string
			switch in.Cmd {
			case "env":
				pairs := in.EnvPairs()
				for _, name := range slices.Sorted(maps.Keys(pairs)) {
					names, values = append(names, name), append(values, pairs[name])
				}
			case "arg":
				for _, a := range in.Args {
					name, value, _ := strings.Cut(a, "=")
					names, values = append(names, name), append(values, value)
				}
			default:
				continue
			}
			for i, name := range names {
				if secretName.MatchString(name) || secretValue.MatchString(values[i]) {
					out = append(out, fmt.Sprintf("line %d: %s %s: image layers and build history keep it; use a --mount=type=secret or the runtime environment",
						in.Line, strings.ToUpper(in.Cmd), name))
				}
			}
		}
	}
	return out
}

func copyFromStages(d *Dockerfile) []string {
	var out []string
	for i, st := range d.Stages {
		for _, in := range st.Body {
			if from, ok := in.Flag("from"); ok && in.Cmd == "copy" && d.Stage(from, i) == nil {
				out = append(out, fmt.Sprintf("line %d: COPY --from=%s is not an earlier stage: name a pinned image in a FROM ... AS stage", in.Line, from))
			}
		}
	}
	return out
}

func noPipeToShell(d *Dockerfile) []string {
	var out []string
	for _, st := range d.Stages {
		for _, in := range st.Body {
			if in.Cmd == "run" && pipeToShell.MatchString(strings.Join(in.Args, " ")) {
				out = append(out, fmt.Sprintf("line %d: a download piped into a shell runs whatever the server sends", in.Line))
			}
		}
	}
	return out
}

func noToolchain(d *Dockerfile) []string {
	var out []string
	for _, st := range d.Shipped() {
		base := d.ExternalBase(st)
		repo := strings.SplitN(strings.SplitN(base, "@", 2)[0], ":", 2)[0]
		if repo == "golang" || strings.HasSuffix(repo, "/golang") {
			out = append(out, fmt.Sprintf("stage %q starts from %s: ship only the binaries", stageName(st), base))
		}
	}
	return out
}

func multiStage(d *Dockerfile) []string {
	var out []string
	for _, st := range d.Shipped() {
		copied := false
		for _, in := range st.Body {
			if from, ok := in.Flag("from"); ok && in.Cmd == "copy" && d.Stage(from, st.Index) != nil {
				copied = true
			}
		}
		if !copied {
			out = append(out, fmt.Sprintf("stage %q copies nothing from a build stage", stageName(st)))
		}
	}
	return out
}

func aptHygiene(d *Dockerfile) []string {
	var out []string
	for _, st := range d.Stages {
		for _, in := range st.Body {
			cmd := strings.Join(in.Args, " ")
			if in.Cmd != "run" || !strings.Contains(cmd, "apt-get install") {
				continue
			}
			if !strings.Contains(cmd, "--no-install-recommends") {
				out = append(out, fmt.Sprintf("line %d: apt-get install without --no-install-recommends", in.Line))
			}
			if !strings.Contains(cmd, "rm -rf /var/lib/apt/lists") {
				out = append(out, fmt.Sprintf("line %d: apt lists left in the layer (rm -rf /var/lib/apt/lists/* in the same RUN)", in.Line))
			}
		}
	}
	return out
}

func execEntrypoint(d *Dockerfile) []string {
	var out []string
	for _, st := range d.Shipped() {
		for _, in := range st.Body {
			if in.Cmd == "entrypoint" && !in.JSON {
				out = append(out, fmt.Sprintf("line %d: ENTRYPOINT in shell form: the process is not PID 1 and never sees SIGTERM", in.Line))
			}
		}
	}
	return out
}

func stageName(st *Stage) string {
	if st.Name != "" {
		return st.Name
	}
	return strconv.Itoa(st.Index)
}
