package imagewatch

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/policy"
)

// SignatureHeader carries an HMAC-SHA256 of the body with the shared secret, as
// "sha256=<hex>", for senders that sign bodies instead of sending the secret itself.
const SignatureHeader = "X-Idp-Signature-256"

// Event is the part of an EventBridge event for an ECR image action that idp reads.
type Event struct {
	DetailType string      `json:"detail-type"`
	Source     string      `json:"source"`
	Account    string      `json:"account"`
	Region     string      `json:"region"`
	Detail     EventDetail `json:"detail"`
}

// EventDetail is the event's detail: what happened to which image.
type EventDetail struct {
	ActionType     string `json:"action-type"`
	Result         string `json:"result"`
	RepositoryName string `json:"repository-name"`
	ImageTag       string `json:"image-tag"`
	ImageDigest    string `json:"image-digest"`
}

// Event constants of ECR image pushes as EventBridge delivers them.
const (
	DetailTypeImageAction = "ECR Image Action"
	SourceECR             = "aws.ecr"
	ActionPush            = "PUSH"
	ResultSuccess         = "SUCCESS"
)

// NewPushEvent is the event EventBridge delivers for a successful push (bin/sandbox sends it).
func NewPushEvent(account, region, repo, tag, digest string) Event {
	return Event{DetailType: DetailTypeImageAction, Source: SourceECR, Account: account, Region: region,
		Detail: EventDetail{ActionType: ActionPush, Result: ResultSuccess, RepositoryName: repo, ImageTag: tag, ImageDigest: digest}}
}

// Push is an event that asks for a promotion: a service's new tag and the env it enters.
type Push struct {
	Service string `json:"service"`
	Tag     string `json:"tag"`
	Digest  string `json:"digest"`
	// Entry is the first env of the tag's path; Last the env it stops at without a person.
	Entry string `json:"entry"`
	Last  string `json:"last"`
}

// RefusedError is an event idp will not act on: malformed (Status 400) or well-formed but
// nothing to promote (422). Its message says what is wrong and how to fix it.
type RefusedError struct {
	Status int
	Msg    string
}

func (e *RefusedError) Error() string { return e.Msg }

func malformed(format string, args ...any) error {
	return &RefusedError{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

func unusable(format string, args ...any) error {
	return &RefusedError{Status: http.StatusUnprocessableEntity, Msg: fmt.Sprintf(format, args...)}
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// ParsePush reads an ECR push event and maps it to a promotion: the repository to its service
// through tooling.repositories, the tag to its path through the entry patterns. Anything else
// (another detail type, a failed push, a deletion, another account, an unknown repository, a
// tag no env takes) is refused.
func ParsePush(cfg *config.Config, body []byte) (Push, error) {
	var ev Event
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(&ev); err != nil {
		return Push{}, malformed("the body is not an EventBridge event in JSON: %v", err)
	}
	d := ev.Detail
	var missing []string
	for name, v := range map[string]string{"detail-type": ev.DetailType, "source": ev.Source, "account": ev.Account,
		"detail.action-type": d.ActionType, "detail.result": d.Result, "detail.repository-name": d.RepositoryName,
		"detail.image-tag": d.ImageTag, "detail.image-digest": d.ImageDigest} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return Push{}, malformed("the event lacks %s: send the ECR \"Image Action\" event as EventBridge delivers it", strings.Join(missing, ", "))
	}
	if ev.DetailType != DetailTypeImageAction || ev.Source != SourceECR {
		return Push{}, malformed("detail-type %q from %q is not an ECR image action (want %q from %q): check the EventBridge rule's pattern",
			ev.DetailType, ev.Source, DetailTypeImageAction, SourceECR)
	}
	if !digestRE.MatchString(d.ImageDigest) {
		return Push{}, malformed("detail.image-digest %q is not a sha256 digest", d.ImageDigest)
	}
	if ev.Account != cfg.Tooling.AWS.AccountID {
		return Push{}, unusable("the event comes from account %s, not the tooling account %s (tooling.aws.accountId)", ev.Account, cfg.Tooling.AWS.AccountID)
	}
	if d.ActionType != ActionPush || d.Result != ResultSuccess {
		return Push{}, unusable("a %s with result %s promotes nothing: only a successful PUSH does (filter the EventBridge rule on both)", d.ActionType, d.Result)
	}
	service, ok := ServiceOf(cfg, d.RepositoryName)
	if !ok {
		return Push{}, unusable("ECR repository %q belongs to no service (tooling.repositories lists %s)", d.RepositoryName, strings.Join(repoNames(cfg), ", "))
	}
	if !policy.ValidTag(d.ImageTag) {
		return Push{}, malformed("detail.image-tag %q is not an image tag", d.ImageTag)
	}
	path, err := policy.Path(cfg, policy.Input{Service: service, Tag: d.ImageTag})
	if err != nil {
		return Push{}, unusable("%s:%s is not promoted: %v", service, d.ImageTag, err)
	}
	return Push{Service: service, Tag: d.ImageTag, Digest: d.ImageDigest, Entry: path[0].Name, Last: path[len(path)-1].Name}, nil
}

// ServiceOf is the service whose ECR repository is repo.
func ServiceOf(cfg *config.Config, repo string) (string, bool) {
	for svc, r := range cfg.Tooling.Repositories {
		if r == repo {
			return svc, true
		}
	}
	return "", false
}

func repoNames(cfg *config.Config) []string {
	var out []string
	for _, r := range cfg.Tooling.Repositories {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// ErrUnauthenticated is a request that carries neither the shared secret nor a valid HMAC.
var ErrUnauthenticated = errors.New("unauthenticated")

// Authenticate accepts a request that carries the shared secret in header (an EventBridge
// connection with API key authorization) or an HMAC-SHA256 of body with it in
// SignatureHeader. Both compare in constant time; the error never echoes what was sent.
func Authenticate(h http.Header, header, secret string, body []byte) error {
	if got := h.Get(header); got != "" {
		if subtle.ConstantTimeCompare([]byte(got), []byte(secret)) == 1 {
			return nil
		}
		return fmt.Errorf("%w: the %s header does not hold the shared secret", ErrUnauthenticated, header)
	}
	if got := h.Get(SignatureHeader); got != "" {
		want := Sign(secret, body)
		if subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 {
			return nil
		}
		return fmt.Errorf("%w: %s is not the body's HMAC-SHA256 with the shared secret", ErrUnauthenticated, SignatureHeader)
	}
	return fmt.Errorf("%w: send the shared secret in the %s header (an EventBridge connection with API key authorization) or the body's HMAC in %s",
		ErrUnauthenticated, header, SignatureHeader)
}

// Sign is the SignatureHeader value for body: "sha256=" and the hex HMAC-SHA256 with secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
