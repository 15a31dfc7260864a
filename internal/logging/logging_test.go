package logging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/config"
	"github.com/flinkdrop/flinkdrop/internal/clock"
)

var start = time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)

// jsonLines decodes every line of data, failing on one that is not JSON.
func jsonLines(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func newLogger(t *testing.T, cfg config.Log, stderr *bytes.Buffer, isTerminal bool, clk clock.Clock) zerolog.Logger {
	t.Helper()
	log, closer, err := NewWithOptions(cfg, stderr, isTerminal, Options{Clock: clk})
	if err != nil {
		t.Fatalf("NewWithOptions(%+v) error: %v", cfg, err)
	}
	t.Cleanup(func() {
		if err := closer.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return log
}

func TestFileGetsJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "flinkdrop.log")
	var stderr bytes.Buffer
	log, closer, err := NewWithOptions(config.Log{Level: "info", File: path, MaxSizeMB: 1}, &stderr, false, Options{Clock: clock.NewFake(start)})
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Str("session", "s1").Int("bytes", 42).Msg("uploaded")
	log.Debug().Msg("hidden at info")
	log.Error().Err(errors.New("boom")).Msg("failed")
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := jsonLines(t, data)
	if len(lines) != 2 {
		t.Fatalf("file has %d lines, want 2:\n%s", len(lines), data)
	}
	want := []map[string]any{
		{"level": "info", "message": "uploaded", "session": "s1", "bytes": 42.0, "time": "2026-01-02T03:04:05.678Z"},
		{"level": "error", "message": "failed", "error": "boom", "time": "2026-01-02T03:04:05.678Z"},
	}
	for i, w := range want {
		for k, v := range w {
			if lines[i][k] != v {
				t.Errorf("line %d field %s = %v, want %v", i, k, lines[i][k], v)
			}
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr got %q, want nothing when a file is set and stderr is not a terminal", stderr.String())
	}
}

func TestRealClockTimestampHasMilliseconds(t *testing.T) {
	var stderr bytes.Buffer
	log, closer, err := New(config.Log{Level: "info"}, &stderr, false)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	log.Info().Msg("hello")
	lines := jsonLines(t, stderr.Bytes())
	re := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$`)
	if len(lines) != 1 || !re.MatchString(lines[0]["time"].(string)) {
		t.Errorf("stderr = %q, want one JSON line with an RFC 3339 millisecond time", stderr.String())
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flinkdrop.log")
	log, closer, err := NewWithOptions(config.Log{Level: "info", File: path, MaxSizeMB: 1, MaxBackups: 5}, &bytes.Buffer{}, false, Options{Clock: clock.NewFake(start)})
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 1000)
	const n = 1500 // about 1.5 MB: one rotation at 1 MB
	for i := range n {
		log.Info().Int("i", i).Str("pad", pad).Msg("line")
	}
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "flinkdrop*.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("files after 1.5 MB with max_size_mb 1 = %v, want the log and a rotated backup", files)
	}
	seen := make(map[float64]bool)
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() > 1<<20 {
			t.Errorf("%s is %d bytes, want at most 1 MB", f, info.Size())
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range jsonLines(t, data) {
			seen[l["i"].(float64)] = true
		}
	}
	if len(seen) != n {
		t.Errorf("lines over all files = %d, want %d (none lost in rotation)", len(seen), n)
	}
}

func TestConsole(t *testing.T) {
	tests := []struct {
		name       string
		cfg        config.Log
		terminal   bool
		wantJSON   bool
		wantColour bool
		wantEmpty  bool
	}{
		{"auto, not a terminal: JSON", config.Log{Console: "auto"}, false, true, false, false},
		{"auto, terminal: readable with colour", config.Log{Console: "auto"}, true, false, true, false},
		{"empty means auto", config.Log{}, true, false, true, false},
		{"pretty, not a terminal: readable, no colour", config.Log{Console: "pretty"}, false, false, false, false},
		{"json on a terminal", config.Log{Console: "json"}, true, true, false, false},
		{"file set, terminal: stderr too", config.Log{Console: "auto", File: "x.log"}, true, false, true, false},
		{"file set, no terminal: stderr quiet", config.Log{Console: "auto", File: "x.log"}, false, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cfg.File != "" {
				tt.cfg.File = filepath.Join(t.TempDir(), tt.cfg.File)
			}
			var stderr bytes.Buffer
			log := newLogger(t, tt.cfg, &stderr, tt.terminal, clock.NewFake(start))
			log.Warn().Str("folder", "a").Msg("hello console")
			out := stderr.String()
			if tt.wantEmpty {
				if out != "" {
					t.Errorf("stderr = %q, want nothing", out)
				}
				return
			}
			if !strings.Contains(out, "hello console") {
				t.Fatalf("stderr = %q, want the message", out)
			}
			isJSON := json.Valid(bytes.TrimSpace(stderr.Bytes()))
			if isJSON != tt.wantJSON {
				t.Errorf("stderr %q: JSON = %v, want %v", out, isJSON, tt.wantJSON)
			}
			if got := strings.Contains(out, "\x1b["); got != tt.wantColour {
				t.Errorf("stderr %q: colour = %v, want %v", out, got, tt.wantColour)
			}
		})
	}
}

func TestLevels(t *testing.T) {
	tests := []struct {
		level string
		want  []string
	}{
		{"", []string{"info", "warn", "error"}},
		{"trace", []string{"trace", "debug", "info", "warn", "error"}},
		{"debug", []string{"debug", "info", "warn", "error"}},
		{"WARN", []string{"warn", "error"}},
		{"error", []string{"error"}},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		log := newLogger(t, config.Log{Level: tt.level}, &stderr, false, clock.NewFake(start))
		log.Trace().Msg("m")
		log.Debug().Msg("m")
		log.Info().Msg("m")
		log.Warn().Msg("m")
		log.Error().Msg("m")
		var got []string
		for _, l := range jsonLines(t, stderr.Bytes()) {
			got = append(got, l["level"].(string))
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("level %q logged %v, want %v", tt.level, got, tt.want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  config.Log
		want string
	}{
		{"bad level", config.Log{Level: "loud"}, `log.level "loud" is not a level`},
		{"unwritable file", config.Log{File: filepath.Join(blocker, "sub", "x.log")}, "open log.file"},
	}
	for _, tt := range tests {
		_, _, err := New(tt.cfg, &bytes.Buffer{}, false)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New error = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "plain"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("IsTerminal(regular file) = true, want false")
	}
	if IsTerminal(nil) {
		t.Error("IsTerminal(nil) = true, want false")
	}
}
