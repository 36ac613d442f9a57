package redact

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestError(t *testing.T) {
	t.Parallel()
	sentinel := errors.New("git credentials refused")
	tests := []struct {
		name    string
		err     error
		rawURL  string
		secrets []string
		want    string
	}{
		{
			name:    "a token given as a secret",
			err:     fmt.Errorf("pushing with ghp_secret_token: %w", sentinel),
			secrets: []string{"ghp_secret_token"},
			want:    "pushing with ***: git credentials refused",
		},
		{
			name:   "the password in the remote's URL",
			err:    fmt.Errorf("fetching https://x-access-token:hunter22@git.example/p.git: %w", sentinel),
			rawURL: "https://x-access-token:hunter22@git.example/p.git",
			want:   "fetching https://x-access-token:***@git.example/p.git: git credentials refused",
		},
		{
			name:   "a token passed as the URL's user name",
			err:    fmt.Errorf("fetching https://ghp_0123456789abcdefghij@git.example/p.git: %w", sentinel),
			rawURL: "https://ghp_0123456789abcdefghij@git.example/p.git",
			want:   "fetching https://***@git.example/p.git: git credentials refused",
		},
		{
			name:    "secrets too short to matter are left alone",
			err:     fmt.Errorf("a b c: %w", sentinel),
			rawURL:  "https://git:x@git.example/p.git",
			secrets: []string{"", "a"},
			want:    "a b c: git credentials refused",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Error(tc.err, tc.rawURL, tc.secrets...)
			require.EqualError(t, err, tc.want)
			require.ErrorIs(t, err, sentinel, "the chain survives")
		})
	}
	require.NoError(t, Error(nil, "https://u:secret@h/", "secret"))
}

func TestURL(t *testing.T) {
	t.Parallel()
	require.Equal(t, "https://git.example/p.git", URL("https://x:tok@git.example/p.git"))
	require.Equal(t, "/srv/platform.git", URL("/srv/platform.git"))
}
