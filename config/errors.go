package config

import (
	"errors"
	"strconv"
)

// ErrInvalid is wrapped by every *FieldError: the configuration has a bad
// key or value. errors.Is(err, ErrInvalid) holds for what Parse, Load and
// Validate return when the configuration itself is wrong.
var ErrInvalid = errors.New("invalid configuration")

// FieldError is one problem in a configuration: where it is, which key,
// and what to do about it. Parse, Load and Validate join them with
// errors.Join, one per line.
type FieldError struct {
	File string // the file name given to Parse or Load; "" from Validate
	Line int    // 1-based; 0 when unknown
	Key  string // dotted path such as inboxes[0].stable_for; "" for the whole file
	Msg  string // what is wrong and the fix
}

// Error formats the problem as "file:line: key: message".
func (e *FieldError) Error() string {
	var s string
	if e.File != "" {
		s = e.File
		if e.Line > 0 {
			s += ":" + strconv.Itoa(e.Line)
		}
		s += ": "
	}
	if e.Key != "" {
		s += e.Key + ": "
	}
	return s + e.Msg
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }
