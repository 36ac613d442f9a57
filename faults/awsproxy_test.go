//go:build faults

package faults

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// awsProxy is a reverse proxy in front of an AWS emulator that answers a share of the calls
// itself, as AWS does under load: throttled (each protocol's throttling error, which SDKs and
// terraform's provider retry with backoff) or 503. A faulted call never reaches the emulator,
// as AWS does nothing for a throttled call. Deny, when set, answers the calls it matches with
// AWS's AccessDenied (403) instead.
type awsProxy struct {
	URL     string
	target  *url.URL
	rp      *httputil.ReverseProxy
	mu      sync.Mutex
	rnd     *rand.Rand
	share   float64
	deny    func(service, action string) bool
	srv     *http.Server
	Calls   atomic.Int64
	Faulted atomic.Int64
	Denied  atomic.Int64
}

// startAWSProxy starts a proxy to target answering share of the calls with a fault.
func startAWSProxy(t *testing.T, target string, share float64) *awsProxy {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	p := &awsProxy{target: u, rp: httputil.NewSingleHostReverseProxy(u), rnd: rand.New(rand.NewSource(12)), share: share}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.URL = "http://" + l.Addr().String()
	p.srv = &http.Server{Handler: p}
	go func() { _ = p.srv.Serve(l) }()
	t.Cleanup(func() { _ = p.srv.Close() })
	return p
}

// SetFaults changes the share of faulted calls and what is denied.
func (p *awsProxy) SetFaults(share float64, deny func(service, action string) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.share, p.deny = share, deny
}

// scope is the service of a SigV4-signed request: Credential=KEY/DATE/REGION/SERVICE/aws4_request.
var scope = regexp.MustCompile(`Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request`)

func (p *awsProxy) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	p.Calls.Add(1)
	service := ""
	if m := scope.FindStringSubmatch(req.Header.Get("Authorization")); m != nil {
		service = m[1]
	}
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	action := awsAction(req, body)
	p.mu.Lock()
	deny, fault, throttle := p.deny, p.rnd.Float64() < p.share, p.rnd.Intn(2) == 0
	p.mu.Unlock()
	switch {
	case deny != nil && deny(service, action):
		p.Denied.Add(1)
		msg := fmt.Sprintf("User: arn:aws:sts::123456789012:assumed-role/idp-worker/idp is not authorized to perform: %s:%s because no identity-based policy allows the %s:%s action", service, action, service, action)
		awsError(w, service, req, http.StatusForbidden, "AccessDenied", msg)
	case fault && throttle:
		p.Faulted.Add(1)
		code, status := "Throttling", http.StatusBadRequest // IAM, STS (query protocol)
		switch {
		case service == "s3":
			code, status = "SlowDown", http.StatusServiceUnavailable
		case service == "ec2":
			code, status = "RequestLimitExceeded", http.StatusServiceUnavailable
		case isJSON(req):
			code = "ThrottlingException"
		}
		awsError(w, service, req, status, code, "Rate exceeded")
	case fault:
		p.Faulted.Add(1)
		awsError(w, service, req, http.StatusServiceUnavailable, "ServiceUnavailable", "Service is unavailable. Please try again later.")
	default:
		p.rp.ServeHTTP(w, req)
	}
}

// awsAction is the API action a request calls: X-Amz-Target's, the query protocol's Action,
// or the method and path of a REST call.
func awsAction(req *http.Request, body []byte) string {
	if t := req.Header.Get("X-Amz-Target"); t != "" {
		return t[strings.LastIndex(t, ".")+1:]
	}
	if v, err := url.ParseQuery(string(body)); err == nil && v.Get("Action") != "" {
		return v.Get("Action")
	}
	if a := req.URL.Query().Get("Action"); a != "" {
		return a
	}
	return req.Method + " " + req.URL.Path
}

// isJSON: the JSON protocols (X-Amz-Target) and REST-JSON services (EKS).
func isJSON(req *http.Request) bool {
	return req.Header.Get("X-Amz-Target") != "" || strings.Contains(req.Header.Get("Content-Type"), "json") ||
		strings.HasPrefix(req.URL.Path, "/clusters")
}

// awsError writes the error as the service's protocol shapes it.
func awsError(w http.ResponseWriter, service string, req *http.Request, status int, code, msg string) {
	const reqID = "f0f0f0f0-idp-faults"
	w.Header().Set("X-Amzn-RequestId", reqID)
	switch {
	case isJSON(req):
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", code)
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":%q,"message":%q}`, code, msg)
	case service == "s3":
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>%s</RequestId></Error>`, code, msg, reqID)
	case service == "ec2":
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>`, code, msg, reqID)
	default:
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		typ := "Sender"
		if status >= 500 {
			typ = "Receiver"
		}
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`, typ, code, msg, reqID)
	}
}
