package shipcheck

import (
	"bufio"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/stretchr/testify/require"
)

const (
	goodBase    = "debian:bookworm-slim@sha256:3783cc01769c7b2b1b83a5c5ad96c815348e28ed7da68e2e3687004faa906251"
	goodBuilder = "golang:1.26.8-bookworm@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d"
)

func parse(t *testing.T, text string) *Dockerfile {
	t.Helper()
	d, err := ParseDockerfile(strings.NewReader(text))
	require.NoError(t, err)
	return d
}

func repoDockerfile(t *testing.T) *Dockerfile {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "Dockerfile"))
	require.NoError(t, err)
	defer f.Close()
	d, err := ParseDockerfile(f)
	require.NoError(t, err)
	return d
}

// good is a small Dockerfile that passes every rule; each bad case below breaks one.
const good = `FROM ` + goodBuilder + ` AS builder
RUN go build -o /out/app .
FROM ` + goodBase + `
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=builder /out/app /usr/local/bin/app
USER 10001:10001
HEALTHCHECK CMD ["/usr/local/bin/app", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/app"]
`

func TestTheGoodExamplePassesEveryRule(t *testing.T) {
	require.Empty(t, Check(parse(t, good)))
}

// TestEveryRuleCatchesABadDockerfile shows, for every rule, a Dockerfile that breaks it and
// the rule's report about it.
func TestEveryRuleCatchesABadDockerfile(t *testing.T) {
	cases := map[string]struct{ dockerfile, want string }{
		"base images are pinned by digest": {
			strings.Replace(good, goodBase, "debian:bookworm-slim", 1), "FROM debian:bookworm-slim is not"},
		"shipped images run as a non-root user": {
			strings.Replace(good, "USER 10001:10001", "USER root", 1), "USER root is root"},
		"shipped images have a HEALTHCHECK in exec form": {
			strings.Replace(good, `HEALTHCHECK CMD ["/usr/local/bin/app", "healthcheck"]`, "HEALTHCHECK CMD curl -f http://localhost/ || exit 1", 1), "shell form"},
		"no ADD of a URL": {
			strings.Replace(good, "USER 10001", "ADD https://example.com/tool.tgz /opt/\nUSER 10001", 1), "ADD https://example.com/tool.tgz"},
		"no secrets in ENV or ARG": {
			strings.Replace(good, "USER 10001", "ENV GITHUB_TOKEN=abc\nUSER 10001", 1), "ENV GITHUB_TOKEN"},
		"COPY --from names an earlier stage": {
			strings.Replace(good, "USER 10001", "COPY --from=alpine:3 /bin/busybox /bin/\nUSER 10001", 1), "COPY --from=alpine:3"},
		"no download piped into a shell": {
			strings.Replace(good, "RUN go build", "RUN curl -fsSL https://get.example.com | sh\nRUN go build", 1), "piped into a shell"},
		"shipped images carry no Go toolchain": {
			strings.Replace(good, "FROM "+goodBase, "FROM builder", 1), `starts from golang`},
		"multi-stage: shipped images copy their build from a stage": {
			strings.Replace(good, "COPY --from=builder /out/app", "COPY app", 1), "copies nothing from a build stage"},
		"apt-get install without recommends, lists removed": {
			strings.Replace(good, " --no-install-recommends", "", 1), "without --no-install-recommends"},
		"ENTRYPOINT in exec form": {
			strings.Replace(good, `ENTRYPOINT ["/usr/local/bin/app"]`, "ENTRYPOINT /usr/local/bin/app", 1), "shell form"},
	}
	require.Len(t, cases, len(Rules), "every rule needs a bad case")
	for _, r := range Rules {
		tc, ok := cases[r.Name]
		require.True(t, ok, "no bad case for rule %q", r.Name)
		problems := r.Check(parse(t, tc.dockerfile))
		require.NotEmpty(t, problems, "rule %q let this through:\n%s", r.Name, tc.dockerfile)
		require.Contains(t, strings.Join(problems, "\n"), tc.want, r.Name)
	}
}

func TestMoreBadDockerfiles(t *testing.T) {
	for name, tc := range map[string]struct{ dockerfile, want string }{
		"no USER at all":           {strings.Replace(good, "USER 10001:10001\n", "", 1), "no USER"},
		"USER 0:0":                 {strings.Replace(good, "USER 10001:10001", "USER 0:0", 1), "USER 0:0 is root"},
		"no HEALTHCHECK":           {strings.Replace(good, `HEALTHCHECK CMD ["/usr/local/bin/app", "healthcheck"]`+"\n", "", 1), "no HEALTHCHECK"},
		"HEALTHCHECK NONE":         {strings.Replace(good, `HEALTHCHECK CMD ["/usr/local/bin/app", "healthcheck"]`, "HEALTHCHECK NONE", 1), "does not check anything"},
		"digest in an ARG":         {"ARG BASE=" + goodBase + "\n" + strings.Replace(good, goodBase, "$BASE", 1), "FROM $BASE is not"},
		"AWS key as a value":       {strings.Replace(good, "USER 10001", "ENV REGION_HINT=AKIAABCDEFGHIJKLMNOP\nUSER 10001", 1), "ENV REGION_HINT"},
		"ARG password":             {strings.Replace(good, "USER 10001", "ARG DB_PASSWORD\nUSER 10001", 1), "ARG DB_PASSWORD"},
		"ADD from git":             {strings.Replace(good, "USER 10001", "ADD git@github.com:o/r.git /src\nUSER 10001", 1), "ADD git@github.com"},
		"apt lists left behind":    {strings.Replace(good, " && rm -rf /var/lib/apt/lists/*", "", 1), "apt lists left"},
		"wget piped to bash":       {strings.Replace(good, "RUN go build", "RUN wget -qO- https://x.example | bash\nRUN go build", 1), "piped into a shell"},
		"an untargeted root stage": {strings.Replace(good, "FROM "+goodBuilder+" AS builder", "FROM "+goodBase+" AS tools\nRUN true\nFROM "+goodBuilder+" AS builder", 1), `stage "tools": no USER`},
	} {
		require.Contains(t, strings.Join(Check(parse(t, tc.dockerfile)), "\n"), tc.want, name)
	}
}

func TestRepositoryDockerfilePassesEveryRule(t *testing.T) {
	require.Empty(t, Check(repoDockerfile(t)))
}

// TestRepositoryDockerfileShipsWhatComposeAndTheWorkerNeed pins what the rest of the repository
// relies on: the stage names compose builds, terraform and git in the worker, the provider
// mirror where IDP_TF_PROVIDER_MIRROR points, and the worker's own health probe.
func TestRepositoryDockerfileShipsWhatComposeAndTheWorkerNeed(t *testing.T) {
	d := repoDockerfile(t)
	var shipped []string
	for _, st := range d.Shipped() {
		shipped = append(shipped, st.Name)
	}
	require.Equal(t, []string{"emulator", "worker"}, shipped)
	worker := d.Stages[len(d.Stages)-1]
	require.Equal(t, "worker", worker.Name, "the worker is the default target")

	env := map[string]string{}
	var copies, runs []string
	var healthcheck, entrypoint []string
	for _, in := range worker.Body {
		switch in.Cmd {
		case "env":
			maps.Copy(env, in.EnvPairs())
		case "copy":
			copies = append(copies, in.Original)
		case "run":
			runs = append(runs, strings.Join(in.Args, " "))
		case "healthcheck":
			healthcheck = in.Args[1:]
		case "entrypoint":
			entrypoint = in.Args
		}
	}
	require.Contains(t, strings.Join(runs, "\n"), "apt-get install -y --no-install-recommends ca-certificates git")
	require.Contains(t, copies, "COPY --from=terraform /bin/terraform /usr/local/bin/terraform")
	require.Contains(t, copies, "COPY --from=providers /opt/tf-plugins /opt/tf-plugins")
	require.Equal(t, "/opt/tf-plugins", env["IDP_TF_PROVIDER_MIRROR"])
	require.Equal(t, ":8081", env["IDP_HEALTH_ADDR"])
	require.Equal(t, "/etc/idp/idp.yaml", env["IDP_CONFIG"])
	require.Equal(t, []string{"/usr/local/bin/worker", "healthcheck"}, healthcheck)
	require.Equal(t, []string{"/usr/local/bin/worker"}, entrypoint)

	// The provider mirror holds exactly what infra/entry pins, for the image's platform.
	providers := d.Stage("providers", len(d.Stages))
	require.NotNil(t, providers)
	var mirror string
	for _, in := range providers.Body {
		if in.Cmd == "run" {
			mirror = strings.Join(in.Args, " ")
		}
	}
	require.Contains(t, mirror, "terraform -chdir=infra/entry init -backend=false")
	require.Contains(t, mirror, "terraform -chdir=infra/entry providers mirror -platform=${TARGETOS}_${TARGETARCH} /opt/tf-plugins")
	versions, err := os.ReadFile(filepath.Join(repoRoot, "infra", "entry", "versions.tf"))
	require.NoError(t, err)
	require.Contains(t, string(versions), `version = "= 5.100.0"`, "the mirror is made from infra/entry's exact pin")

	// The emulator is the kumo the product's tests use: tools/kumo pins the product's version.
	kumo := d.Stage("kumo-builder", len(d.Stages))
	require.NotNil(t, kumo)
	require.Contains(t, strings.Join(kumo.Body[len(kumo.Body)-1].Args, " "), "cd tools/kumo && ")
	require.Contains(t, strings.Join(kumo.Body[len(kumo.Body)-1].Args, " "), "github.com/sivchari/kumo/cmd/kumo")
	version := func(dir string) string {
		cmd := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/sivchari/kumo")
		cmd.Dir = filepath.Join(repoRoot, dir)
		out, err := cmd.Output()
		require.NoError(t, err, dir)
		return strings.TrimSpace(string(out))
	}
	require.Equal(t, version("."), version("tools/kumo"), "tools/kumo builds the kumo the product's go.mod pins")
}

// TestBuildContextHoldsEveryPackageTheImageBuilds reads .dockerignore as BuildKit does and
// checks that every file of every package cmd/worker and cmd/starter are built from reaches
// the builder, and that secrets and local state do not.
func TestBuildContextHoldsEveryPackageTheImageBuilds(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot, ".dockerignore"))
	require.NoError(t, err)
	patterns, err := ignorefile.ReadAll(f)
	f.Close()
	require.NoError(t, err)
	pm, err := patternmatcher.New(patterns)
	require.NoError(t, err)
	excluded := func(rel string) bool {
		ex, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
		require.NoError(t, err)
		return ex
	}

	cmd := exec.Command("go", "list", "-deps", "-json=Dir,GoFiles,EmbedFiles,Module", "./cmd/worker", "./cmd/starter")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(string(out)))
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	files := 0
	for dec.More() {
		var p struct {
			Dir                 string
			GoFiles, EmbedFiles []string
			Module              *struct{ Main bool }
		}
		require.NoError(t, dec.Decode(&p))
		if p.Module == nil || !p.Module.Main {
			continue
		}
		for _, name := range append(p.GoFiles, p.EmbedFiles...) {
			rel, err := filepath.Rel(root, filepath.Join(p.Dir, name))
			require.NoError(t, err)
			require.False(t, excluded(rel), "%s is built into the image but .dockerignore leaves it out", rel)
			files++
		}
	}
	require.Greater(t, files, 50)
	for _, rel := range []string{"go.mod", "go.sum", "infra/entry/versions.tf", "infra/modules/eks/main.tf", "tools/kumo/go.mod", "tools/kumo/go.sum"} {
		require.False(t, excluded(rel), rel)
	}
	for _, rel := range []string{".git/config", "bin/worker", ".sandbox/keys/alice", ".sandbox/idp.yaml",
		"cmd/worker/health/health_test.go", "e2e/e2e_test.go", "README.md", ".env"} {
		require.True(t, excluded(rel), "%s reaches the build context", rel)
	}
}

// TestDockerfileCopiesOnlyWhatTheContextHas: every COPY source in the build stages exists.
func TestDockerfileCopiesOnlyWhatTheContextHas(t *testing.T) {
	d := repoDockerfile(t)
	n := 0
	for _, st := range d.Stages {
		for _, in := range st.Body {
			if _, from := in.Flag("from"); in.Cmd != "copy" || from {
				continue
			}
			for _, src := range in.Args[:len(in.Args)-1] {
				_, err := os.Stat(filepath.Join(repoRoot, src))
				require.NoError(t, err, "line %d: COPY %s", in.Line, src)
				n++
			}
		}
	}
	require.GreaterOrEqual(t, n, 6)
}

// TestDockerfileCommentNamesWhereDigestsCameFrom keeps the provenance note next to the pins.
func TestDockerfileCommentNamesWhereDigestsCameFrom(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot, "Dockerfile"))
	require.NoError(t, err)
	defer f.Close()
	var header strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() && strings.HasPrefix(sc.Text(), "#") {
		header.WriteString(sc.Text() + "\n")
	}
	require.Contains(t, header.String(), "pinned by digest")
	require.Contains(t, header.String(), "not that the digest is")
}
