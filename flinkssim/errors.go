package flinkssim

import "errors"

// ErrClosed is returned by Close when the simulator was already closed.
var ErrClosed = errors.New("flinkssim: simulator already closed")

// ErrBadOptions is returned (wrapped, with the option named) by Start when
// an Options value is out of range, such as a negative limit or a rate
// outside 0..1.
var ErrBadOptions = errors.New("flinkssim: invalid options")
