// Package secret holds credentials in a type that never prints them.
//
// A Value prints as "[redacted]" through fmt (every verb), encoding/json,
// encoding.TextMarshaler and zerolog, so a secret that slips into a log line,
// an error message, a report or the status file shows as a placeholder. The
// only way to read it is Reveal, which the code calls where the secret goes
// onto the wire.
package secret

import (
	"fmt"

	"github.com/rs/zerolog"
)

// Redacted is what a Value prints as.
const Redacted = "[redacted]"

// Value is a secret string. The zero Value is empty.
type Value struct {
	s string
}

// New wraps s.
func New(s string) Value { return Value{s: s} }

// Reveal returns the secret itself. Call it only where the secret is sent.
func (v Value) Reveal() string { return v.s }

// IsZero reports whether the secret is empty.
func (v Value) IsZero() bool { return v.s == "" }

// String implements fmt.Stringer.
func (v Value) String() string {
	if v.s == "" {
		return ""
	}
	return Redacted
}

// GoString implements fmt.GoStringer, so %#v hides it too.
func (v Value) GoString() string { return `secret.Value("` + v.String() + `")` }

// Format implements fmt.Formatter: every verb prints the placeholder.
func (v Value) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(v.GoString()))
		return
	}
	_, _ = f.Write([]byte(v.String()))
}

// MarshalText implements encoding.TextMarshaler (JSON, YAML and zerolog's
// Interface use it).
func (v Value) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// MarshalJSON implements json.Marshaler.
func (v Value) MarshalJSON() ([]byte, error) { return []byte(`"` + v.String() + `"`), nil }

// MarshalZerologObject is not used: a Value is a string field, so it
// implements zerolog.LogObjectMarshaler only to be safe with Object().
func (v Value) MarshalZerologObject(e *zerolog.Event) { e.Str("secret", v.String()) }
