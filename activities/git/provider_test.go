package git

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestChangeCleanPath(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]string{
		"argocd/applications/dev/time-service.yaml":   "argocd/applications/dev/time-service.yaml",
		"./argocd//applications/dev/../prod/app.yaml": "argocd/applications/prod/app.yaml",
		"":                 "",
		".":                "",
		"/etc/passwd":      "",
		"../etc/passwd":    "",
		"a/../../b":        "",
		`argocd\dev\x.yml`: "",
	} {
		got, err := Change{Path: path}.CleanPath()
		if want == "" {
			require.ErrorContains(t, err, "invalid repository path", path)
			continue
		}
		require.NoError(t, err, path)
		require.Equal(t, want, got, path)
	}
}

func TestChangeApply(t *testing.T) {
	t.Parallel()
	keep := func(old []byte) ([]byte, error) { return old, nil }
	set := func(b string) Edit { return func([]byte) ([]byte, error) { return []byte(b), nil } }
	boom := errors.New("no app.image")
	tests := []struct {
		name        string
		edit        Edit
		old         []byte
		exists      bool
		wantChanged bool
		wantErr     error
	}{
		{name: "same bytes", edit: keep, old: []byte("a"), exists: true},
		{name: "a missing file left missing", edit: keep},
		{name: "new bytes", edit: set("b"), old: []byte("a"), exists: true, wantChanged: true},
		{name: "an empty file created", edit: set(""), wantChanged: true},
		{name: "an edit error", edit: func([]byte) ([]byte, error) { return nil, boom }, exists: true, wantErr: boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, changed, err := Change{Path: "x.yaml", Edit: tc.edit}.Apply(tc.old, tc.exists)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.ErrorContains(t, err, "editing x.yaml")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantChanged, changed)
		})
	}
}

func TestOptionsHideSecrets(t *testing.T) {
	t.Parallel()
	o := Options{Token: "ghp_secret_token", APIURL: "https://ghe.example/api/v3/",
		App: GitHubApp{ID: 1, InstallationID: 2, PrivateKey: []byte("-----BEGIN RSA PRIVATE KEY-----")}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		s := fmt.Sprintf(verb, o)
		require.NotContains(t, s, "ghp_secret_token", verb)
		require.NotContains(t, s, "PRIVATE KEY", verb)
		require.Contains(t, s, "https://ghe.example/api/v3/", verb)
	}
}

func TestAuthorWithDefaults(t *testing.T) {
	t.Parallel()
	require.Equal(t, DefaultAuthor, Author{}.WithDefaults())
	require.Equal(t, Author{Name: "bot", Email: "idp@localhost"}, Author{Name: "bot"}.WithDefaults())
	require.Equal(t, Author{Name: "idp", Email: "b@x"}, Author{Email: "b@x"}.WithDefaults())
}
