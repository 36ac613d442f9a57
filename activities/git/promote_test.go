package git_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/internal/fail"
	"github.com/alexpermiakov/idp/internal/policy"
)

const (
	oldImage = "864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:sha-0000000"
	newImage = "864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:sha-1234567"
)

// devApp is an env's Application as the platform repository holds it.
var devApp = `# time-service in dev
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: time-service-dev
spec:
  sources:
    - path: helm-charts/standard-service
      helm:
        values: |
          app:
            name: time-service
            image: ` + oldImage + `
          replicas: 1
`

// fakeProvider is a platform repository in memory: it applies edits to files like a real
// provider and records what it was asked to do.
type fakeProvider struct {
	files map[string][]byte
	// err fails every call; mergeErr fails Merge only.
	err, mergeErr error
	calls         []string
	// what Propose and UpdateProposal were given
	base, head, title, body, updated string
}

func (f *fakeProvider) write(c git.Change) (git.CommitResult, error) {
	old, exists := f.files[c.Path]
	updated, changed, err := c.Apply(old, exists)
	if err != nil || !changed {
		return git.CommitResult{Commit: "c0"}, err
	}
	f.files[c.Path] = updated
	return git.CommitResult{Commit: "c1", Changed: true}, nil
}

func (f *fakeProvider) Commit(_ context.Context, branch string, c git.Change) (git.CommitResult, error) {
	f.calls = append(f.calls, "commit "+branch+" "+c.Path)
	if f.err != nil {
		return git.CommitResult{}, f.err
	}
	return f.write(c)
}

func (f *fakeProvider) Propose(_ context.Context, base, head string, c git.Change, title, body string) (git.Proposal, error) {
	f.calls = append(f.calls, "propose "+head+" "+c.Path)
	f.base, f.head, f.title, f.body = base, head, title, body
	if f.err != nil {
		return git.Proposal{}, f.err
	}
	res, err := f.write(c)
	return git.Proposal{Base: base, Head: head, Commit: res.Commit, Number: 7}, err
}

func (f *fakeProvider) UpdateProposal(_ context.Context, p git.Proposal, body string) error {
	f.calls = append(f.calls, "update "+p.Head)
	f.updated = body
	return f.err
}

func (f *fakeProvider) Merge(_ context.Context, p git.Proposal) (git.CommitResult, error) {
	f.calls = append(f.calls, "merge "+p.Head)
	if err := errors.Join(f.err, f.mergeErr); err != nil {
		return git.CommitResult{}, err
	}
	return git.CommitResult{Commit: "m1", Changed: true}, nil
}

// requireFailure checks that err is a non-retryable application error of type typ, or with
// typ "" that it is left for Temporal to retry.
func requireFailure(t *testing.T, err error, typ string) {
	t.Helper()
	require.Error(t, err)
	var app *temporal.ApplicationError
	if typ == "" {
		require.False(t, errors.As(err, &app) && app.NonRetryable(), "retryable, got %v", err)
		return
	}
	require.True(t, fail.Is(err, typ), "want %s, got %v", typ, err)
	require.True(t, errors.As(err, &app) && app.NonRetryable())
}

func TestWriteImage(t *testing.T) {
	t.Parallel()
	path := policy.ManifestPath("dev", "time-service")
	commit := git.WriteImageInput{Env: "dev", Service: "time-service", Image: newImage, Message: "promote"}
	propose := commit
	propose.Propose, propose.Head, propose.Title, propose.Body = true, "idp/promote-time-service", "Promote", "waiting"
	tests := []struct {
		name  string
		in    git.WriteImageInput
		prov  *fakeProvider
		check func(t *testing.T, f *fakeProvider, out git.WriteImageOutput, err error)
	}{
		{
			name: "commits the new image to the branch, reporting the previous one",
			in:   commit, prov: &fakeProvider{files: map[string][]byte{path: []byte(devApp)}},
			check: func(t *testing.T, f *fakeProvider, out git.WriteImageOutput, err error) {
				require.NoError(t, err)
				require.Equal(t, []string{"commit main " + path}, f.calls)
				require.Equal(t, strings.Replace(devApp, oldImage, newImage, 1), string(f.files[path]), "only the image changed")
				require.Equal(t, "c1", out.Commit)
				require.True(t, out.Changed)
				require.Equal(t, oldImage, out.Previous)
				require.Nil(t, out.Proposal)
				require.False(t, out.Written.IsZero())
			},
		},
		{
			name: "an image already in place changes nothing",
			in:   git.WriteImageInput{Env: "dev", Service: "time-service", Image: oldImage, Message: "promote"},
			prov: &fakeProvider{files: map[string][]byte{path: []byte(devApp)}},
			check: func(t *testing.T, f *fakeProvider, out git.WriteImageOutput, err error) {
				require.NoError(t, err)
				require.Equal(t, devApp, string(f.files[path]))
				require.Equal(t, "c0", out.Commit)
				require.False(t, out.Changed)
				require.Equal(t, oldImage, out.Previous)
			},
		},
		{
			name: "proposes on a branch from the platform branch",
			in:   propose, prov: &fakeProvider{files: map[string][]byte{path: []byte(devApp)}},
			check: func(t *testing.T, f *fakeProvider, out git.WriteImageOutput, err error) {
				require.NoError(t, err)
				require.Equal(t, []string{"propose idp/promote-time-service " + path}, f.calls)
				require.Equal(t, []string{"main", "idp/promote-time-service", "Promote", "waiting"}, []string{f.base, f.head, f.title, f.body})
				require.Equal(t, &git.Proposal{Base: "main", Head: "idp/promote-time-service", Commit: "c1", Number: 7}, out.Proposal)
				require.Equal(t, "c1", out.Commit)
				require.True(t, out.Changed)
				require.Equal(t, oldImage, out.Previous)
			},
		},
		{
			name: "refused credentials: access denied", in: commit,
			prov: &fakeProvider{err: fmtErr(git.ErrAuth)},
			check: func(t *testing.T, _ *fakeProvider, _ git.WriteImageOutput, err error) {
				requireFailure(t, err, fail.AccessDenied)
			},
		},
		{
			name: "a missing repository or branch: not found", in: propose,
			prov: &fakeProvider{err: fmtErr(git.ErrNotFound)},
			check: func(t *testing.T, _ *fakeProvider, _ git.WriteImageOutput, err error) {
				requireFailure(t, err, fail.NotFound)
			},
		},
		{
			name: "a manifest without an image: config error", in: commit,
			prov: &fakeProvider{files: map[string][]byte{path: []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\n")}},
			check: func(t *testing.T, f *fakeProvider, _ git.WriteImageOutput, err error) {
				requireFailure(t, err, fail.Config)
				require.Equal(t, "apiVersion: argoproj.io/v1alpha1\nkind: Application\n", string(f.files[path]), "nothing written")
			},
		},
		{
			name: "a missing manifest: config error", in: commit,
			prov: &fakeProvider{files: map[string][]byte{}},
			check: func(t *testing.T, _ *fakeProvider, _ git.WriteImageOutput, err error) {
				requireFailure(t, err, fail.Config)
			},
		},
		{
			name: "a rollback restores the previous image over ours",
			in:   git.WriteImageInput{Env: "dev", Service: "time-service", Image: newImage, Expect: oldImage, Message: "roll back"},
			prov: &fakeProvider{files: map[string][]byte{path: []byte(devApp)}},
			check: func(t *testing.T, f *fakeProvider, out git.WriteImageOutput, err error) {
				require.NoError(t, err)
				require.True(t, out.Changed)
				require.Equal(t, strings.Replace(devApp, oldImage, newImage, 1), string(f.files[path]))
			},
		},
		{
			name: "a rollback over a newer change is refused: replaced, file untouched",
			in:   git.WriteImageInput{Env: "dev", Service: "time-service", Image: newImage, Expect: "registry/idp/localtime:v9.9.9", Message: "roll back"},
			prov: &fakeProvider{files: map[string][]byte{path: []byte(devApp)}},
			check: func(t *testing.T, f *fakeProvider, _ git.WriteImageOutput, err error) {
				requireFailure(t, err, fail.Replaced)
				require.Equal(t, devApp, string(f.files[path]), "the newer change stays")
			},
		},
		{
			name: "a retried rollback that already landed changes nothing",
			in:   git.WriteImageInput{Env: "dev", Service: "time-service", Image: oldImage, Expect: newImage, Message: "roll back"},
			prov: &fakeProvider{files: map[string][]byte{path: []byte(devApp)}},
			check: func(t *testing.T, f *fakeProvider, out git.WriteImageOutput, err error) {
				require.NoError(t, err)
				require.False(t, out.Changed)
			},
		},
		{
			name: "anything else is retried", in: commit,
			prov: &fakeProvider{err: errors.New("connection reset by peer")},
			check: func(t *testing.T, _ *fakeProvider, _ git.WriteImageOutput, err error) {
				requireFailure(t, err, "")
				require.ErrorContains(t, err, "committing "+path+": connection reset by peer")
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := &git.Activities{Provider: tc.prov, Branch: "main"}
			out, err := a.WriteImage(context.Background(), tc.in)
			tc.check(t, tc.prov, out, err)
		})
	}
}

func TestMergeProposal(t *testing.T) {
	t.Parallel()
	prop := git.Proposal{Base: "main", Head: "idp/promote-time-service", Commit: "c1", Number: 7}
	tests := []struct {
		name  string
		in    git.MergeInput
		prov  *fakeProvider
		check func(t *testing.T, f *fakeProvider, out git.WriteImageOutput, err error)
	}{
		{
			name: "records the body, then merges",
			in:   git.MergeInput{Proposal: prop, Body: "approved by bob"}, prov: &fakeProvider{},
			check: func(t *testing.T, f *fakeProvider, out git.WriteImageOutput, err error) {
				require.NoError(t, err)
				require.Equal(t, []string{"update " + prop.Head, "merge " + prop.Head}, f.calls)
				require.Equal(t, "approved by bob", f.updated)
				require.Equal(t, "m1", out.Commit)
				require.True(t, out.Changed)
				require.False(t, out.Written.IsZero())
			},
		},
		{
			name: "no body: merges only",
			in:   git.MergeInput{Proposal: prop}, prov: &fakeProvider{},
			check: func(t *testing.T, f *fakeProvider, _ git.WriteImageOutput, err error) {
				require.NoError(t, err)
				require.Equal(t, []string{"merge " + prop.Head}, f.calls)
			},
		},
		{
			name: "a proposal that conflicts with its base: conflict",
			in:   git.MergeInput{Proposal: prop}, prov: &fakeProvider{mergeErr: fmtErr(git.ErrNotMergeable)},
			check: func(t *testing.T, _ *fakeProvider, _ git.WriteImageOutput, err error) {
				requireFailure(t, err, fail.Conflict)
			},
		},
		{
			name: "refused credentials on the body update: access denied, no merge",
			in:   git.MergeInput{Proposal: prop, Body: "approved"}, prov: &fakeProvider{err: fmtErr(git.ErrAuth)},
			check: func(t *testing.T, f *fakeProvider, _ git.WriteImageOutput, err error) {
				requireFailure(t, err, fail.AccessDenied)
				require.Equal(t, []string{"update " + prop.Head}, f.calls)
			},
		},
		{
			name: "a vanished pull request: not found",
			in:   git.MergeInput{Proposal: prop}, prov: &fakeProvider{mergeErr: fmtErr(git.ErrNotFound)},
			check: func(t *testing.T, _ *fakeProvider, _ git.WriteImageOutput, err error) {
				requireFailure(t, err, fail.NotFound)
			},
		},
		{
			name: "anything else is retried",
			in:   git.MergeInput{Proposal: prop}, prov: &fakeProvider{mergeErr: errors.New("502 bad gateway")},
			check: func(t *testing.T, _ *fakeProvider, _ git.WriteImageOutput, err error) { requireFailure(t, err, "") },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := &git.Activities{Provider: tc.prov, Branch: "main"}
			out, err := a.MergeProposal(context.Background(), tc.in)
			tc.check(t, tc.prov, out, err)
		})
	}
}

// A worker whose provider could not be built fails promotions with the cause, as a
// configuration error even when the cause is missing credentials: it is the worker's setup
// that needs fixing.
func TestUnavailableProvider(t *testing.T) {
	t.Parallel()
	a := &git.Activities{Provider: git.Unavailable(fmtErr(git.ErrAuth)), Branch: "main"}
	_, err := a.WriteImage(context.Background(), git.WriteImageInput{Env: "dev", Service: "s", Image: newImage})
	requireFailure(t, err, fail.Config)
	require.ErrorContains(t, err, "from the provider")
	_, err = a.MergeProposal(context.Background(), git.MergeInput{Proposal: git.Proposal{Head: "h"}, Body: "b"})
	requireFailure(t, err, fail.Config)
}

func TestActivitiesWithoutProvider(t *testing.T) {
	t.Parallel()
	a := &git.Activities{Branch: "main"}
	_, err := a.WriteImage(context.Background(), git.WriteImageInput{Env: "dev", Service: "s", Image: newImage})
	requireFailure(t, err, fail.Config)
	_, err = a.MergeProposal(context.Background(), git.MergeInput{})
	requireFailure(t, err, fail.Config)
}

// fmtErr wraps a sentinel the way providers do.
func fmtErr(sentinel error) error { return fmt.Errorf("from the provider: %w", sentinel) }
