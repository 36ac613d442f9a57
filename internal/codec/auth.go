package codec

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// MinTokenLength is the shortest token a tokens file may hold: 20 characters, about what
// `openssl rand -hex 10` gives, too many to guess over HTTP.
const MinTokenLength = 20

// bearer is the token of "Authorization: Bearer <token>".
func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", ErrNoCredentials
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", &Refusal{Status: http.StatusUnauthorized, Reason: "the Authorization header is not \"Bearer <token>\""}
	}
	return strings.TrimSpace(token), nil
}

// Tokens lets in the holders of static bearer tokens, one per person or machine, read from a
// file of "NAME TOKEN" lines. Only the tokens' SHA-256 are kept.
type Tokens struct {
	names  []string
	hashes [][sha256.Size]byte
}

// LoadTokens reads a tokens file; every problem is reported at once, never with a token.
func LoadTokens(path string) (*Tokens, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	t := &Tokens{}
	seen, seenHash := map[string]int{}, map[[sha256.Size]byte]int{}
	var errs []error
	if err := forEachPair(path, b, "NAME TOKEN", func(line int, where, name, token string) {
		hash := sha256.Sum256([]byte(token))
		switch {
		case len(token) < MinTokenLength:
			errs = append(errs, fmt.Errorf("%s: the token of %s is %d characters; use at least %d (openssl rand -hex 20)", where, name, len(token), MinTokenLength))
		case seen[name] != 0:
			errs = append(errs, fmt.Errorf("%s: %s already has a token on line %d", where, name, seen[name]))
		case seenHash[hash] != 0:
			errs = append(errs, fmt.Errorf("%s: the token of %s is the token on line %d: give each holder their own", where, name, seenHash[hash]))
		default:
			seen[name], seenHash[hash] = line, line
			t.names, t.hashes = append(t.names, name), append(t.hashes, hash)
		}
	}); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 && len(t.names) == 0 {
		errs = append(errs, fmt.Errorf("%s holds no token: add lines \"NAME TOKEN\"", path))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// Authorize lets in a request whose bearer token is one of the file's, named by its holder.
func (t *Tokens) Authorize(r *http.Request) (string, error) {
	token, err := bearer(r)
	if err != nil {
		return "", err
	}
	hash := sha256.Sum256([]byte(token))
	who := ""
	for i, h := range t.hashes {
		// Compare with every token, in constant time, so timing tells nothing.
		if subtle.ConstantTimeCompare(hash[:], h[:]) == 1 {
			who = t.names[i]
		}
	}
	if who == "" {
		return "", &Refusal{Status: http.StatusForbidden, Reason: "this token may not use the codec"}
	}
	return who, nil
}

// Userinfo lets in the people an OpenID Connect provider vouches for: the Web UI, configured
// to pass the user's access token, forwards it; the provider's userinfo endpoint says whose it
// is (or that it is not valid), and only the listed emails or subjects may decode. Answers are
// remembered for a minute per token, as the Web UI decodes many payloads per page.
type Userinfo struct {
	URL     string
	Allow   map[string]bool // emails and subjects
	Client  *http.Client
	TTL     time.Duration
	mu      sync.Mutex
	answers map[[sha256.Size]byte]userinfoAnswer
}

type userinfoAnswer struct {
	who     string
	err     error
	expires time.Time
}

// NewUserinfo checks the settings of a Userinfo authorizer.
func NewUserinfo(url string, allow []string) (*Userinfo, error) {
	var errs []error
	if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
		errs = append(errs, fmt.Errorf("--userinfo %q: want the provider's userinfo endpoint, https://…", url))
	}
	if len(allow) == 0 {
		errs = append(errs, errors.New("--userinfo needs --allow EMAIL (or subject) for each person who may decode"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	u := &Userinfo{URL: url, Allow: map[string]bool{}, Client: &http.Client{Timeout: 10 * time.Second}, TTL: time.Minute}
	for _, a := range allow {
		u.Allow[strings.ToLower(strings.TrimSpace(a))] = true
	}
	return u, nil
}

// Authorize asks the provider whose token the request carries.
func (u *Userinfo) Authorize(r *http.Request) (string, error) {
	token, err := bearer(r)
	if err != nil {
		return "", err
	}
	key := sha256.Sum256([]byte(token))
	u.mu.Lock()
	a, ok := u.answers[key]
	u.mu.Unlock()
	if ok && time.Now().Before(a.expires) {
		return a.who, a.err
	}
	who, err := u.ask(r.Context(), token)
	var refusal *Refusal
	if err == nil || errors.As(err, &refusal) { // the provider's answer, not a failure to reach it
		u.mu.Lock()
		if u.answers == nil {
			u.answers = map[[sha256.Size]byte]userinfoAnswer{}
		}
		u.answers[key] = userinfoAnswer{who: who, err: err, expires: time.Now().Add(u.TTL)}
		u.mu.Unlock()
	}
	return who, err
}

func (u *Userinfo) ask(ctx context.Context, token string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.URL, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := u.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("asking the identity provider (%s): %w", u.URL, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return "", &Refusal{Status: http.StatusUnauthorized, Reason: "the identity provider does not accept this token (expired? sign in again)"}
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("the identity provider (%s) answered %s", u.URL, resp.Status)
	}
	var info struct {
		Subject       string `json:"sub"`
		Email         string `json:"email"`
		EmailVerified *bool  `json:"email_verified"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&info); err != nil {
		return "", fmt.Errorf("the identity provider (%s) answered no userinfo JSON: %w", u.URL, err)
	}
	if info.EmailVerified != nil && !*info.EmailVerified {
		info.Email = "" // anyone can claim an address they have not verified
	}
	for _, id := range []string{info.Email, info.Subject} {
		if id != "" && u.Allow[strings.ToLower(id)] {
			return id, nil
		}
	}
	who := info.Email
	if who == "" {
		who = info.Subject
	}
	return "", &Refusal{Status: http.StatusForbidden, Reason: fmt.Sprintf("%s may not decode payloads (not in --allow)", who)}
}
