// Package controls owns the holds people put on an environment: freezes ("stop the line":
// nothing enters the env) and pins (a service stays on what it runs). It holds the shapes the
// per-env Controls workflow keeps and answers with, the statement a person signs to change
// them, and the pure rules read off them (is the env frozen now, is a service pinned). Its one
// call out is Get, the query the CLI and the activities that ask about pins share.
package controls

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/alexpermiakov/idp/internal/signature"
)

// Names of the Controls workflow, its updates, query and the door protocol. They live here,
// not in workflows/api, because activities (which may not import workflows) ask about pins.
const (
	WorkflowName = "Controls"
	IDPrefix     = "controls-"

	// Query returns the env's State.
	Query = "controls"
	// DoorSignal asks the env's Controls workflow whether a run may enter (DoorRequest); it
	// answers with AnswerSignal (DoorAnswer) at once, and again when a freeze lifts.
	DoorSignal   = "controls-door"
	AnswerSignal = "controls-answer"
)

// WorkflowID is the ID of env's Controls workflow: one per env, long-running.
func WorkflowID(env string) string { return IDPrefix + env }

// Operations: the names of the Controls workflow's updates, and the decision a signed
// statement names.
const (
	OpFreeze   = "freeze"
	OpUnfreeze = "unfreeze"
	OpPin      = "pin"
	OpUnpin    = "unpin"
)

// System is who idp's own pins (after a rollback) are recorded as; no person may be named
// so (it is not a valid name under people:).
const System = "idp (rollback)"

// Freeze stops runs at the env's door: promotions and bootstraps wait until it lifts.
type Freeze struct {
	Who    string `json:"who"`
	Reason string `json:"reason"`
	// Until is when the freeze lifts by itself; nil means until someone unfreezes.
	Until *time.Time `json:"until,omitempty"`
	Since time.Time  `json:"since"`
	// All says it was declared for every env at once (freeze --all).
	All bool `json:"all,omitempty"`
	// Key is the fingerprint of the key that signed the request; empty when unsigned.
	Key string `json:"key,omitempty"`
}

// Pin holds a service in the env on what it runs: promotions into it are refused until unpin.
type Pin struct {
	Service string `json:"service"`
	// Tag or Image say what it is pinned to (after a rollback: the image put back, by digest).
	Tag    string    `json:"tag,omitempty"`
	Image  string    `json:"image,omitempty"`
	Who    string    `json:"who"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
	// Run is the promotion whose rollback pinned it (automatic pins only).
	Run string `json:"run,omitempty"`
	Key string `json:"key,omitempty"`
}

// State is what the Controls query returns: the env's freezes and pins, oldest first.
type State struct {
	Env     string   `json:"env"`
	Freezes []Freeze `json:"freezes"`
	Pins    []Pin    `json:"pins"`
	// Waiting are the runs waiting at the door for a freeze to lift.
	Waiting []DoorRequest `json:"waiting,omitempty"`
	// ContinueAfter is the history length at which the workflow continues as new (0: its
	// default); tests lower it.
	ContinueAfter int `json:"continueAfter,omitempty"`
}

// Active drops the freezes that expired by now.
func Active(freezes []Freeze, now time.Time) []Freeze {
	out := []Freeze{}
	for _, f := range freezes {
		if f.Until == nil || now.Before(*f.Until) {
			out = append(out, f)
		}
	}
	return out
}

// NextExpiry is the earliest Until among freezes, or the zero time when none expires.
func NextExpiry(freezes []Freeze) time.Time {
	var next time.Time
	for _, f := range freezes {
		if f.Until != nil && (next.IsZero() || f.Until.Before(next)) {
			next = *f.Until
		}
	}
	return next
}

// PinOf is service's pin, or nil.
func PinOf(pins []Pin, service string) *Pin {
	for i := range pins {
		if pins[i].Service == service {
			return &pins[i]
		}
	}
	return nil
}

// Describe says who froze the env, until when and why: "frozen by alice until
// 2026-11-30T18:00:00Z: release party"; several freezes are joined with "; ".
func Describe(freezes []Freeze) string {
	parts := make([]string, 0, len(freezes))
	for _, f := range freezes {
		until := "until unfrozen"
		if f.Until != nil {
			until = "until " + f.Until.UTC().Format(time.RFC3339)
		}
		parts = append(parts, fmt.Sprintf("frozen by %s %s: %s", f.Who, until, f.Reason))
	}
	return strings.Join(parts, "; ")
}

// DescribePin says who pinned the service, to what and why.
func DescribePin(p Pin) string {
	to := ""
	switch {
	case p.Image != "":
		to = " to " + p.Image
	case p.Tag != "":
		to = " to " + p.Tag
	}
	return fmt.Sprintf("%s is pinned%s by %s since %s: %s", p.Service, to, p.Who, p.Since.UTC().Format(time.RFC3339), p.Reason)
}

// Request is one change to an env's controls, as the freeze/unfreeze/pin/unpin updates take it.
type Request struct {
	Env string `json:"env"`
	// Service names the pinned service (pin, unpin).
	Service string `json:"service,omitempty"`
	Tag     string `json:"tag,omitempty"`
	Image   string `json:"image,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Until bounds a freeze; nil means until unfrozen.
	Until *time.Time `json:"until,omitempty"`
	All   bool       `json:"all,omitempty"`
	Who   string     `json:"who"`
	// Signature is Who's armored SSH signature of Statement(op); empty when unsigned.
	Signature string    `json:"signature,omitempty"`
	SignedAt  time.Time `json:"signedAt,omitzero"`
	// Run names the promotion whose rollback asks for a pin: idp's own pin, by System.
	Run string `json:"run,omitempty"`
}

// Statement is what a person signs to change env's controls: the env's Controls workflow, the
// env, the operation, the subject (the env for a freeze, the service — with ":tag" when given —
// for a pin), the reason with the freeze's end, and the signing time.
func (r Request) Statement(op string) signature.Statement {
	subject := r.Env
	if op == OpPin || op == OpUnpin {
		subject = r.Service
		if r.Tag != "" {
			subject += ":" + r.Tag
		}
	}
	comment := r.Reason
	if r.Until != nil {
		comment += "\nuntil: " + r.Until.UTC().Format(time.RFC3339)
	}
	if r.All {
		comment += "\nall: true"
	}
	return signature.Statement{WorkflowID: WorkflowID(r.Env), Env: r.Env, Decision: op, Subject: subject,
		Comment: comment, SignedAt: r.SignedAt}
}

// Check refuses a request that is malformed whoever sends it: it names nobody, a freeze or pin
// without a reason, a freeze that ends before now, a pin without a service, an automatic pin
// of anything but a pin.
func (r Request) Check(op string, now time.Time) error {
	var errs []string
	if strings.TrimSpace(r.Who) == "" {
		errs = append(errs, "the request names nobody: pass --as USER or set IDP_USER")
	}
	if (op == OpFreeze || op == OpPin) && strings.TrimSpace(r.Reason) == "" {
		errs = append(errs, "a "+op+" needs a reason (--reason TEXT): people waiting on it read it")
	}
	if op == OpFreeze && r.Until != nil && !r.Until.After(now) {
		errs = append(errs, fmt.Sprintf("--until %s is not in the future (now %s)", r.Until.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
	}
	if (op == OpPin || op == OpUnpin) && strings.TrimSpace(r.Service) == "" {
		errs = append(errs, "a "+op+" names a service (--service SVC)")
	}
	if r.Run != "" && (op != OpPin || r.Who != System) {
		errs = append(errs, "only idp's own rollback pins name a run")
	}
	if r.Who == System && r.Run == "" {
		errs = append(errs, fmt.Sprintf("%q is idp's own name: name yourself", System))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// Rules say who may change an env's controls, with which keys, and whether they must sign.
type Rules struct {
	Env string `json:"env"`
	// Known is false when idp.yaml has no such env.
	Known bool `json:"known"`
	// People may freeze, unfreeze, pin and unpin in the env, with their key lines.
	People []Person `json:"people"`
	// RequireSignatures holds where any of the env's gates requires signed decisions.
	RequireSignatures bool `json:"requireSignatures"`
}

// Person is someone allowed, with their authorized_keys lines.
type Person struct {
	Name string   `json:"name"`
	Keys []string `json:"keys"`
}

// Find is who's entry, or nil when they may not.
func (r Rules) Find(who string) *Person {
	who = strings.ToLower(strings.TrimSpace(who))
	for i := range r.People {
		if r.People[i].Name == who {
			return &r.People[i]
		}
	}
	return nil
}

// Names lists the allowed people, sorted.
func (r Rules) Names() []string {
	out := make([]string, 0, len(r.People))
	for _, p := range r.People {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

// DoorRequest asks env's Controls workflow whether Owner may enter.
type DoorRequest struct {
	Owner string `json:"owner"`
	// Service is the promoted service (empty for a bootstrap): the answer carries its pin.
	Service string `json:"service,omitempty"`
}

// DoorAnswer tells Owner whether env's door is open, and why not.
type DoorAnswer struct {
	Env  string `json:"env"`
	Open bool   `json:"open"`
	// Freezes hold the door shut while Open is false.
	Freezes []Freeze `json:"freezes,omitempty"`
	// Pin is the service's pin, if any.
	Pin *Pin `json:"pin,omitempty"`
}

// Answer is the door's answer in env, with these freezes in force, to a run whose service has
// pin (nil: none): open while nothing is frozen.
func Answer(env string, freezes []Freeze, pin *Pin) DoorAnswer {
	a := DoorAnswer{Env: env, Open: len(freezes) == 0, Pin: pin}
	if !a.Open {
		a.Freezes = freezes
	}
	return a
}

// Passes says a run of service (empty for a bootstrap) goes on past the door: it is open, or
// the service is pinned in the env, which refuses the run, frozen or not.
func (a DoorAnswer) Passes(service string) bool {
	return a.Open || service != "" && a.Pin != nil
}
