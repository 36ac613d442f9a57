package gitremote

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/internal/gittest"
)

// benchHistory gives main of the bare repository n more commits, each adding one file under
// docs/ (the shape of the e2e main race: every commit's tree differs from all others).
func benchHistory(b testing.TB, bare string, n int) {
	b.Helper()
	var in strings.Builder
	fmt.Fprintf(&in, "reset refs/heads/main\nfrom refs/heads/main^0\n\n")
	for i := range n {
		content := fmt.Sprintf("doc %d\n", i)
		fmt.Fprintf(&in, "commit refs/heads/main\ncommitter docs <docs@test> %d +0000\ndata %d\n%s\n",
			1700000000+i, len(fmt.Sprint(i)), fmt.Sprint(i))
		fmt.Fprintf(&in, "M 100644 inline docs/%d.md\ndata %d\n%s\n", i, len(content), content)
	}
	fastImport(b, bare, in.String())
}

// fastImport feeds a git fast-import stream to the bare repository.
func fastImport(b testing.TB, bare, stream string) {
	b.Helper()
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = bare
	cmd.Stdin = strings.NewReader(stream)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("git fast-import: %v\n%s", err, out)
	}
}

// BenchmarkCommitOnLongHistory is one Commit (fetch, build, push) to a main with 2000
// commits behind it, each with its own tree. Before pushes worked from the tips alone, go-git
// walked all of that history on every push: 0.7 s a push here, growing with the square of the
// history, which lost every race against a branch that moves several times a second.
func BenchmarkCommitOnLongHistory(b *testing.B) {
	bare := provBareRepo(b)
	benchHistory(b, bare, 2000)
	p, err := New("file://"+bare, git.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 1; b.Loop(); i++ {
		res, err := p.Commit(ctx, "main", git.Change{Path: gittest.DevApp, Edit: gittest.Image(fmt.Sprintf("idp/localtime:sha-%07d", i)), Message: "bench"})
		if err != nil || !res.Changed {
			b.Fatalf("commit %d: %v (changed %v)", i, err, res.Changed)
		}
	}
}

// manifestHistory gives main of the bare repository 500 service manifests under
// argocd/applications/dev/ and then commits more commits, each changing the image of one of
// them in turn: the shape of a platform repository after years of promotions.
func manifestHistory(b testing.TB, bare string, manifests, commits int) {
	b.Helper()
	var in strings.Builder
	fmt.Fprintf(&in, "reset refs/heads/main\nfrom refs/heads/main^0\n\n")
	manifest := func(svc, image int) string {
		return fmt.Sprintf("name: svc-%03d\nimage: idp/svc-%03d:sha-%07d\n", svc, svc, image)
	}
	fmt.Fprintf(&in, "commit refs/heads/main\ncommitter bench <bench@test> 1700000000 +0000\ndata 4\nseed\n")
	for s := range manifests {
		content := manifest(s, 0)
		fmt.Fprintf(&in, "M 100644 inline argocd/applications/dev/svc-%03d.yaml\ndata %d\n%s\n", s, len(content), content)
	}
	for i := 1; i < commits; i++ {
		s, content := i%manifests, manifest(i%manifests, i)
		fmt.Fprintf(&in, "commit refs/heads/main\ncommitter bench <bench@test> %d +0000\ndata %d\n%d\n", 1700000000+i, len(fmt.Sprint(i)), i)
		fmt.Fprintf(&in, "M 100644 inline argocd/applications/dev/svc-%03d.yaml\ndata %d\n%s\n", s, len(content), content)
	}
	fastImport(b, bare, in.String())
}

// BenchmarkManifestEditOn5000Commits is one promotion's write (fetch, edit one manifest's
// image, commit, push) to a main with 5,000 commits and 500 manifests, the provider reused
// across writes as the worker reuses it (its clone is fetched, not made again). make bench
// reports its ns/op in docs/BENCHMARKS.md (issue 13's scenario 7).
func BenchmarkManifestEditOn5000Commits(b *testing.B) {
	const manifests, commits = 500, 5000
	bare := provBareRepo(b)
	manifestHistory(b, bare, manifests, commits)
	p, err := New("file://"+bare, git.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 1; b.Loop(); i++ {
		path := fmt.Sprintf("argocd/applications/dev/svc-%03d.yaml", i%manifests)
		image := fmt.Sprintf("idp/svc-%03d:sha-b%06d", i%manifests, i)
		res, err := p.Commit(ctx, "main", git.Change{Path: path, Edit: gittest.Image(image), Message: "bench"})
		if err != nil || !res.Changed {
			b.Fatalf("commit %d: %v (changed %v)", i, err, res.Changed)
		}
	}
}
