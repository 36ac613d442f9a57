// Package redact keeps credentials out of the git providers' error messages, which end up in
// workflow histories, worker logs and the CLI's output.
package redact

import (
	"net/url"
	"strings"
)

// minLen is the shortest secret worth hiding: replacing a one- or two-character "secret"
// everywhere would garble messages without protecting anything.
const minLen = 4

// secretError hides secrets in an error's text while keeping its chain for errors.Is and
// errors.As.
type secretError struct {
	err     error
	secrets []string
}

func (e *secretError) Error() string {
	s := e.err.Error()
	for _, sec := range e.secrets {
		s = strings.ReplaceAll(s, sec, "***")
	}
	return s
}

func (e *secretError) Unwrap() error { return e.err }

// Error returns err with every secret in its text replaced by ***, and so the password (or a
// token passed as user name) in rawURL's user info; rawURL may be empty. A nil err stays nil.
func Error(err error, rawURL string, secrets ...string) error {
	if err == nil {
		return nil
	}
	var hide []string
	for _, s := range append([]string{fromURL(rawURL)}, secrets...) {
		if len(s) >= minLen {
			hide = append(hide, s)
		}
	}
	if len(hide) == 0 {
		return err
	}
	return &secretError{err: err, secrets: hide}
}

// fromURL is the credential in a URL's user info, or "".
func fromURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		return pw
	}
	if name := u.User.Username(); len(name) >= 20 { // a token passed as user name
		return name
	}
	return ""
}

// URL returns raw without its user info, for messages.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}
