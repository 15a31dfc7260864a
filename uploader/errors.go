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
