// Package gittest holds what the providers' tests share: the platform repository they start
// from, edits like the promotion's, and a retry policy fast enough for tests.
package gittest

import (
	"strings"
	"time"

	"github.com/alexpermiakov/idp/activities/git"
	"github.com/alexpermiakov/idp/activities/git/internal/retry"
)

// Paths of the two Applications in Seed.
const (
	DevApp  = "argocd/applications/dev/time-service.yaml"
	ProdApp = "argocd/applications/prod/time-service.yaml"
)

// Seed is the platform repository every provider test starts from.
var Seed = map[string]string{
	DevApp:      "name: time-service\nimage: idp/localtime:sha-0000000\n",
	ProdApp:     "name: time-service\nimage: idp/localtime:v1.0.0\n",
	"README.md": "platform\n",
}

// FastRetry keeps retry delays in tests to milliseconds.
var FastRetry = retry.Policy{Attempts: 40, Base: time.Millisecond, Max: 20 * time.Millisecond}

// Image rewrites the image line, like the Promote workflow's edit; a missing file gets one.
func Image(image string) git.Edit {
	return func(old []byte) ([]byte, error) {
		if old == nil {
			return []byte("image: " + image + "\n"), nil
		}
		var out []string
		for _, line := range strings.SplitAfter(string(old), "\n") {
			if strings.HasPrefix(line, "image: ") {
				line = "image: " + image + "\n"
			}
			out = append(out, line)
		}
		return []byte(strings.Join(out, "")), nil
	}
}

// Append adds a line to the file.
func Append(line string) git.Edit {
	return func(old []byte) ([]byte, error) { return append(append([]byte{}, old...), line+"\n"...), nil }
}
