// Package logging builds the daemon's zerolog logger from config.Log.
//
// Lines go as JSON to a rotating file when log.file is set, and to stderr:
// readable on a terminal, JSON otherwise (log.console overrides). With a
// file set, stderr is written only when it is a terminal, so a service's
// lines are not duplicated into the system journal. Timestamps are RFC 3339
// with milliseconds. Warnings and errors repeated with the same message and
// error are logged once per window and then summarised ("repeated N more
// times"), so a failure that recurs every second does not flood the log.
package logging

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/flinkdrop/flinkdrop/config"
	"github.com/flinkdrop/flinkdrop/internal/clock"
)

// TimeFormat is the timestamp format: RFC 3339 with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// DefaultThrottleWindow is how long identical warnings and errors are
// held back after the first one is logged.
const DefaultThrottleWindow = 5 * time.Minute

// Options are the optional knobs of NewWithOptions. The zero value is what
// New uses.
type Options struct {
	// Clock stamps lines and times the throttle; nil means clock.Real().
	Clock clock.Clock
	// ThrottleWindow is the window of the throttle; 0 means
	// DefaultThrottleWindow, a negative value turns throttling off.
	ThrottleWindow time.Duration
}

// New builds the logger described by cfg. The Closer flushes the
// throttle's pending summaries and closes the log file; call it last.
func New(cfg config.Log, stderr io.Writer, isTerminal bool) (zerolog.Logger, io.Closer, error) {
	return NewWithOptions(cfg, stderr, isTerminal, Options{})
}

// NewWithOptions is New with an injected clock and throttle window.
func NewWithOptions(cfg config.Log, stderr io.Writer, isTerminal bool, opts Options) (zerolog.Logger, io.Closer, error) {
	clk := opts.Clock
	if clk == nil {
		clk = clock.Real()
	}
	window := opts.ThrottleWindow
	if window == 0 {
		window = DefaultThrottleWindow
	}
	level := zerolog.InfoLevel
	if cfg.Level != "" {
		l, err := zerolog.ParseLevel(strings.ToLower(cfg.Level))
		if err != nil || l == zerolog.NoLevel {
			return zerolog.Nop(), nil, fmt.Errorf("logging: log.level %q is not a level (use trace, debug, info, warn or error)", cfg.Level)
		}
		level = l
	}

	var writers []io.Writer
	closers := &closers{}
	if cfg.File != "" {
		f := &lumberjack.Logger{
			Filename:   cfg.File,
			MaxSize:    cfg.MaxSizeMB,
			MaxBackups: cfg.MaxBackups,
			MaxAge:     cfg.MaxAgeDays,
			LocalTime:  true,
		}
		// Open it now, so a folder that cannot be written fails at start.
		if _, err := f.Write(nil); err != nil {
			return zerolog.Nop(), nil, fmt.Errorf("logging: open log.file %s: %w (create the folder or give the service account write access, or leave log.file empty for stderr)", cfg.File, err)
		}
		writers = append(writers, f)
		closers.list = append(closers.list, f)
	}
	if cfg.File == "" || isTerminal {
		writers = append(writers, consoleWriter(cfg.Console, stderr, isTerminal))
	}

	out := zerolog.MultiLevelWriter(writers...)
	if window > 0 {
		t := NewThrottle(out, clk, window, zerolog.WarnLevel)
		out = t
		closers.list = append([]io.Closer{t}, closers.list...)
	} else {
		out = &lockedWriter{w: out}
	}
	logger := zerolog.New(out).Level(level).Hook(timestampHook{clk: clk})
	return logger, closers, nil
}

// consoleWriter returns stderr's writer for the console format.
func consoleWriter(format string, stderr io.Writer, isTerminal bool) io.Writer {
	pretty := format == config.ConsolePretty || ((format == "" || format == config.ConsoleAuto) && isTerminal)
	if !pretty {
		return stderr
	}
	return zerolog.ConsoleWriter{
		Out:        stderr,
		NoColor:    !isTerminal,
		TimeFormat: "2006-01-02 15:04:05.000",
	}
}

// IsTerminal reports whether f is a terminal (including Cygwin and MSYS
// terminals on Windows).
func IsTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	fd := f.Fd()
	return isatty.IsTerminal(fd) || isatty.IsCygwinTerminal(fd)
}

// timestampHook stamps every line from the injected clock.
type timestampHook struct{ clk clock.Clock }

func (h timestampHook) Run(e *zerolog.Event, _ zerolog.Level, _ string) {
	e.Str(zerolog.TimestampFieldName, h.clk.Now().Format(TimeFormat))
}

// closers closes each in order and joins the errors.
type closers struct{ list []io.Closer }

func (c *closers) Close() error {
	var errs []error
	for _, cl := range c.list {
		if err := cl.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
