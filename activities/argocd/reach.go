package argocd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// ErrUnreachable: Argo CD did not answer while idp waited for an Application, up to the
// wait's timeout. It says nothing about the release: nobody saw it fail, so nothing is rolled
// back.
const ErrUnreachable = "ArgoCDUnreachable"

// How a wait tells that Argo CD answers. Argo CD has no API of its own here: idp reads the
// Application, which stays in the cluster whether or not the application controller runs. So
// the wait asks the controller a question only it answers: after probeAfter without a sign of
// it (a new reconciledAt of the Application, or of any other in the env where the env's shared
// watch runs, or a refresh answered), it requests a refresh (the refresh
// annotation, which the controller removes once it has compared the Application); a refresh
// still pending after answerWithin means the controller is away. A Kubernetes API that does
// not answer at all (refused, reset, timing out, 5xx) counts the same way: idp cannot reach
// Argo CD through it.
var (
	probeAfter   = 10 * time.Second
	answerWithin = 15 * time.Second
)

// callTimeout bounds one read of the Application, so a hanging API cannot stall the wait.
const callTimeout = 15 * time.Second

// reach follows whether Argo CD answers during one wait.
type reach struct {
	app                     string
	probeAfter, answerAfter time.Duration
	// lastLife is when idp last saw the controller act; reconciled is the reconciledAt seen.
	lastLife   time.Time
	reconciled time.Time
	// asked is when a pending refresh was first seen (zero: none pending).
	asked time.Time
	// since is when Argo CD became unreachable (zero: it answers); why says how idp knows.
	since time.Time
	why   string
	// apiDown says the last read did not reach the Kubernetes API.
	down bool
}

func newReach(app string, now time.Time) *reach {
	return &reach{app: app, probeAfter: probeAfter, answerAfter: answerWithin, lastLife: now}
}

// seen takes one read of the Application and says whether to request a refresh now. busy
// says whether the controller reconciled any Application after a time: a controller working
// through a long queue answers a refresh late, and is not away.
func (r *reach) seen(app *application, now time.Time, busy func(after time.Time) bool) (probe bool) {
	if at := app.Status.ReconciledAt; at != nil && !at.Time.Equal(r.reconciled) {
		if !r.reconciled.IsZero() {
			r.alive(now)
		}
		r.reconciled = at.Time
	}
	_, pending := app.Annotations[annotationRefresh]
	switch {
	case pending && r.asked.IsZero():
		r.asked = now
	case pending && now.Sub(r.asked) >= r.answerAfter && r.since.IsZero() && busy(r.asked):
		r.asked = now // it works on others: give it another answerWithin
	case pending && now.Sub(r.asked) >= r.answerAfter && r.since.IsZero():
		r.since = r.asked
		r.why = fmt.Sprintf("its application controller has not answered a refresh of %s requested at %s (last reconciled %s)",
			r.app, r.asked.UTC().Format(time.RFC3339), stamp(r.reconciled))
	case !pending && !r.asked.IsZero():
		r.alive(now) // the controller took the refresh
	}
	return !pending && now.Sub(r.lastLife) >= r.probeAfter
}

// undecided says, once the wait's deadline has passed, that Argo CD still has a refresh to
// answer: whether it is there decides whether the release or Argo CD is to blame, so the wait
// goes on until it answers or answerWithin has passed, and no longer.
func (r *reach) undecided(deadline time.Time) bool {
	return !r.asked.IsZero() && r.since.IsZero() && time.Now().Before(deadline.Add(r.answerAfter+5*time.Second))
}

// probed notes a refresh idp requested.
func (r *reach) probed(now time.Time) {
	if r.asked.IsZero() {
		r.asked = now
	}
	r.lastLife = now // the next probe waits a full interval again
}

// apiDown notes a read that did not reach the Kubernetes API.
func (r *reach) apiDown(err error, now time.Time) {
	if r.since.IsZero() {
		r.since = now
	}
	r.down = true
	r.why = "the Kubernetes API does not answer: " + err.Error()
}

// apiUp notes a read that reached the Kubernetes API: if the API was what made Argo CD
// unreachable, that is over, and the controller is judged by the reads that follow.
func (r *reach) apiUp(now time.Time) {
	if r.down {
		r.down, r.since, r.why, r.asked = false, time.Time{}, "", time.Time{}
		r.lastLife = now
	}
}

func (r *reach) alive(now time.Time) {
	r.lastLife, r.asked, r.since, r.why = now, time.Time{}, time.Time{}, ""
}

// note is what status shows while Argo CD is away, or "".
func (r *reach) note() string {
	if r.since.IsZero() {
		return ""
	}
	return fmt.Sprintf("Argo CD unreachable since %s: %s", r.since.UTC().Format(time.RFC3339), r.why)
}

// othersReconciled says whether the env's shared watch delivered an Application reconciled
// after a time: the controller is there, so a wait asks it for no refresh to learn that. A
// hundred promotions waiting their turn in its queue would otherwise each ask every
// probeAfter, and each refresh is one more comparison for a controller already behind. No
// watch open: no (the wait probes).
func othersReconciled(k kube, ns string, after time.Time) bool {
	at, ok := watchedReconciled(k, ns)
	return ok && at.After(after)
}

// watchedReconciled is the latest reconciledAt the env's shared watch delivered; false when
// none is open.
func watchedReconciled(k kube, ns string) (time.Time, bool) {
	if w, ok := k.(watcher); ok {
		return w.LastReconciled(gvkApp, ns)
	}
	return time.Time{}, false
}

// anyReconciled says whether Argo CD reconciled any Application in ns after a time, from the
// env's shared watch where one is open, else from the API. An unreadable list counts as no:
// the API's own failures are judged by the wait's reads.
func anyReconciled(ctx context.Context, k kube, ns string, after time.Time) bool {
	if at, ok := watchedReconciled(k, ns); ok {
		return at.After(after)
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	items, err := k.List(cctx, gvkApp, ns)
	if err != nil {
		return false
	}
	for i := range items {
		s, _, _ := unstructured.NestedString(items[i].Object, "status", "reconciledAt")
		if at, err := time.Parse(time.RFC3339, s); err == nil && at.After(after) {
			return true
		}
	}
	return false
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// unanswered reports whether err means the Kubernetes API was not reached or could not
// answer now, rather than an answer a person must act on.
func unanswered(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne), utilnet.IsConnectionRefused(err), utilnet.IsConnectionReset(err), utilnet.IsProbableEOF(err):
		return true
	case apierrors.IsServiceUnavailable(err), apierrors.IsServerTimeout(err), apierrors.IsTimeout(err),
		apierrors.IsTooManyRequests(err), apierrors.IsInternalError(err), apierrors.IsUnexpectedServerError(err):
		return true
	}
	return false
}
