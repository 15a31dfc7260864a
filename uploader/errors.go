package uploader

import (
	"errors"
	"fmt"
	"time"
)

// Kind says what the caller should do about an error.
type Kind int

const (
	// Unknown is the kind of an error that did not come from this package.
	Unknown Kind = iota
	// Credentials: the daemon's own credentials or certificate are wrong
	// (token 400/401, 403, TLS handshake failure, a 401 that persists after
	// one token refresh, the fraud API key refused). Pause all uploading and
	// retry with capped backoff until the operator fixes it; fail nothing.
	Credentials
	// Transient: network error, timeout, 5xx, 429. Retry with backoff,
	// honouring RetryAfter, without limit.
	Transient
	// Rejected: the server refused this request with a 4xx about its content
	// (for an upload, this one file; for complete, this aggregation). Keep
	// HTTPStatus and Message for the report.
	Rejected
	// Protocol: the reply was not as documented (bad JSON, missing fields,
	// a different AggregationId, a body over the size bound).
	Protocol
	// Local: the file could not be read, or changed while it was sent.
	Local
)

func (k Kind) String() string {
	switch k {
	case Credentials:
		return "credentials"
	case Transient:
		return "transient"
	case Rejected:
		return "rejected"
	case Protocol:
		return "protocol"
	case Local:
		return "local"
	}
	return "unknown"
}

// Error is every error the client returns from an API call.
type Error struct {
	Kind Kind
	// Op is the call: "token", "upload", "complete" or "fraud".
	Op string
	// HTTPStatus is the reply's status code, 0 when there was no reply.
	HTTPStatus int
	// Message is the server's message (bounded, never a secret), or a
	// description of the fault.
	Message string
	// RetryAfter is the server's Retry-After, 0 when absent.
	RetryAfter time.Duration
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: %s", e.Op, e.Kind)
	if e.HTTPStatus != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.HTTPStatus)
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of err, Unknown when err is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Unknown
}

// RetryAfterOf returns the Retry-After carried by err, or 0.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// HTTPStatusOf returns the HTTP status carried by err, or 0.
func HTTPStatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.HTTPStatus
	}
	return 0
}

// Sentinel errors. Each is wrapped with the file or call it concerns, so test
// them with errors.Is.
var (
	// ErrNoCertificate is returned by LoadCertificate when neither a PEM
	// certificate and key nor a PFX file is configured, or when both are.
	ErrNoCertificate = errors.New("no client certificate configured")
	// ErrNotPEM is returned when a certificate, key or CA file holds no PEM
	// block of the expected type.
	ErrNotPEM = errors.New("not PEM")
	// ErrKeyMismatch is returned when the private key does not belong to the
	// certificate.
	ErrKeyMismatch = errors.New("private key does not match the certificate")
	// ErrCertificateExpired is returned when the client certificate's
	// NotAfter is before the (injected) current time.
	ErrCertificateExpired = errors.New("certificate expired")
	// ErrCertificateNotYetValid is returned when the client certificate's
	// NotBefore is after the (injected) current time.
	ErrCertificateNotYetValid = errors.New("certificate not yet valid")
	// ErrWrongPassword is returned when a PFX file cannot be decrypted with
	// the configured password.
	ErrWrongPassword = errors.New("wrong PFX password")
	// ErrReplyTooLarge is returned (inside a Protocol error) when a reply
	// body is larger than Options.MaxReplyBytes.
	ErrReplyTooLarge = errors.New("reply body too large")
	// ErrAggregationMismatch is returned (inside a Protocol error) when a
	// reply carries an AggregationId other than the one sent.
	ErrAggregationMismatch = errors.New("reply AggregationId differs from the one sent")
	// ErrFileChanged is returned (inside a Local error) when a file's length
	// differs from its stat size while it is streamed.
	ErrFileChanged = errors.New("file changed while it was sent")
	// ErrIdleTimeout is returned (inside a Transient error) when no byte of
	// the request or reply body moved for Options.IdleBodyTimeout.
	ErrIdleTimeout = errors.New("no progress on the connection")
	// ErrNoFraudURL is returned by FraudAnalysis when Options.FraudURL is
	// empty.
	ErrNoFraudURL = errors.New("no fraud URL configured")
)

// errBodyClosed is returned by a Read of an upload body after Close (the
// transport gave up on the request).
var errBodyClosed = errors.New("upload body closed")
