package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/clock"
)

// maxThrottled bounds the distinct lines the throttle remembers; beyond it
// new lines pass through untracked.
const maxThrottled = 1024

// Throttle is a zerolog.LevelWriter that lets the first of identical lines
// (same level, message and error) at or above a level through, drops the
// repeats for a window, and then writes one summary with the count. Lines
// below the level always pass. Writes are serialised, so the writer below
// need not be safe for concurrent use.
type Throttle struct {
	mu       sync.Mutex
	out      zerolog.LevelWriter
	clk      clock.Clock
	window   time.Duration
	minLevel zerolog.Level
	seen     map[throttleKey]*throttleEntry
	closed   bool
}

type throttleKey struct {
	level    zerolog.Level
	msg, err string
	errField string
}

type throttleEntry struct {
	until      time.Time
	suppressed int
}

var _ zerolog.LevelWriter = (*Throttle)(nil)

// NewThrottle wraps out. Lines at min or above are throttled for window.
func NewThrottle(out io.Writer, clk clock.Clock, window time.Duration, minLevel zerolog.Level) *Throttle {
	lw, ok := out.(zerolog.LevelWriter)
	if !ok {
		lw = zerolog.LevelWriterAdapter{Writer: out}
	}
	return &Throttle{out: lw, clk: clk, window: window, minLevel: minLevel, seen: make(map[throttleKey]*throttleEntry)}
}

// Write passes p through; zerolog calls WriteLevel.
func (t *Throttle) Write(p []byte) (int, error) {
	return t.WriteLevel(zerolog.NoLevel, p)
}

// WriteLevel writes p unless it repeats a line logged within the window.
func (t *Throttle) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clk.Now()
	if err := t.flushLocked(now, false); err != nil {
		return 0, err
	}
	if level == zerolog.NoLevel || level < t.minLevel || t.closed {
		return t.out.WriteLevel(level, p)
	}
	key, ok := lineKey(level, p)
	if !ok {
		return t.out.WriteLevel(level, p)
	}
	if e, ok := t.seen[key]; ok {
		e.suppressed++
		return len(p), nil
	}
	if len(t.seen) < maxThrottled {
		t.seen[key] = &throttleEntry{until: now.Add(t.window)}
	}
	return t.out.WriteLevel(level, p)
}

// Flush writes the summaries of windows that have ended. The throttle
// also does this on every write and on Close.
func (t *Throttle) Flush() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.flushLocked(t.clk.Now(), false)
}

// Close writes every pending summary, ended or not, and stops throttling.
func (t *Throttle) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	return t.flushLocked(t.clk.Now(), true)
}

func (t *Throttle) flushLocked(now time.Time, all bool) error {
	for key, e := range t.seen {
		if !all && now.Before(e.until) {
			continue
		}
		delete(t.seen, key)
		if e.suppressed == 0 {
			continue
		}
		if _, err := t.out.WriteLevel(key.level, t.summary(now, key, e.suppressed)); err != nil {
			return fmt.Errorf("logging: write throttle summary: %w", err)
		}
	}
	return nil
}

// summary is the JSON line that stands for n dropped repeats.
func (t *Throttle) summary(now time.Time, key throttleKey, n int) []byte {
	var buf bytes.Buffer
	l := zerolog.New(&buf)
	e := l.WithLevel(key.level).
		Str(zerolog.TimestampFieldName, now.Format(TimeFormat)).
		Int("repeated", n).
		Int64("throttle_window_ms", t.window.Milliseconds())
	if key.err != "" {
		e = e.Str(key.errField, key.err)
	}
	times := "times"
	if n == 1 {
		times = "time"
	}
	e.Msg(fmt.Sprintf("%s (repeated %d more %s)", key.msg, n, times))
	return buf.Bytes()
}

// lineKey reads the message and error of a JSON line.
func lineKey(level zerolog.Level, p []byte) (throttleKey, bool) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(p, &fields); err != nil {
		return throttleKey{}, false
	}
	key := throttleKey{level: level}
	if raw, ok := fields[zerolog.MessageFieldName]; ok {
		_ = json.Unmarshal(raw, &key.msg)
	}
	for _, name := range []string{zerolog.ErrorFieldName, "err"} {
		if raw, ok := fields[name]; ok {
			key.errField = name
			if json.Unmarshal(raw, &key.err) != nil {
				key.err = string(raw)
			}
			break
		}
	}
	return key, true
}

// lockedWriter serialises writes when there is no throttle.
type lockedWriter struct {
	mu sync.Mutex
	w  zerolog.LevelWriter
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.WriteLevel(level, p)
}
