package service

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	kservice "github.com/kardianos/service"
	"github.com/rs/zerolog"
)

// maxSystemLogMessage bounds one forwarded message (the Windows Event Log
// refuses very long strings).
const maxSystemLogMessage = 8 << 10

// SystemLogWriter returns a writer that forwards error-level (and worse)
// zerolog lines to the service manager's log: the Windows Event Log, or
// syslog (and so the journal) on Linux. Add it to the daemon's logger with
// zerolog.MultiLevelWriter(out, s.SystemLogWriter()). Other levels, and every
// line when running interactively (the console has them) or when that log
// cannot be opened, are dropped. Under systemd with the log on stderr the
// journal already has every line: add the writer when log.file is set.
func (s *Service) SystemLogWriter() zerolog.LevelWriter {
	return &systemLogWriter{logger: s.systemLogger}
}

// systemLogWriter is the zerolog.LevelWriter behind SystemLogWriter.
type systemLogWriter struct {
	logger func() kservice.Logger
}

// Write drops lines that come without a level.
func (w *systemLogWriter) Write(p []byte) (int, error) { return len(p), nil }

// WriteLevel forwards error, fatal and panic lines. It never fails: losing
// the copy must not break the daemon's own logging.
func (w *systemLogWriter) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	if level < zerolog.ErrorLevel || level == zerolog.NoLevel || level == zerolog.Disabled {
		return len(p), nil
	}
	l := w.logger()
	if l == nil {
		return len(p), nil
	}
	_ = l.Error(formatLogLine(p))
	return len(p), nil
}

// formatLogLine turns one zerolog JSON line into readable text:
// "message: err (key=value …)", keys sorted, level and time left out (the
// service manager's log has its own). A line that is not a JSON object is
// passed on as text. The result is at most maxSystemLogMessage bytes.
func formatLogLine(p []byte) string {
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return truncate(strings.TrimSpace(strings.ToValidUTF8(string(p), "?")))
	}
	var b strings.Builder
	msg, _ := fields[zerolog.MessageFieldName].(string)
	b.WriteString(msg)
	// The error under zerolog's field name, or "err" (this project's name).
	errKeys := []string{zerolog.ErrorFieldName, "err", "error"}
	for _, k := range slices.Compact(errKeys) {
		if e, ok := fields[k]; ok {
			if b.Len() > 0 {
				b.WriteString(": ")
			}
			fmt.Fprint(&b, e)
			break
		}
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if k == zerolog.MessageFieldName || k == zerolog.LevelFieldName || k == zerolog.TimestampFieldName || slices.Contains(errKeys, k) {
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteByte(' ')
		}
		v := fields[k]
		if s, ok := v.(string); ok {
			fmt.Fprintf(&b, "%s=%q", k, s)
		} else {
			enc, _ := json.Marshal(v)
			fmt.Fprintf(&b, "%s=%s", k, enc)
		}
		if i == len(keys)-1 {
			b.WriteByte(')')
		}
	}
	return truncate(b.String())
}

// truncate cuts s to maxSystemLogMessage bytes on a rune boundary.
func truncate(s string) string {
	if len(s) <= maxSystemLogMessage {
		return s
	}
	cut := maxSystemLogMessage - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
