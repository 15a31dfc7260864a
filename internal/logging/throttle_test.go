package logging

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/config"
	"github.com/flinkdrop/flinkdrop/internal/clock"
)

// summaryOf returns "level|message|error|repeated" of each line.
func summaryOf(t *testing.T, data []byte) []string {
	t.Helper()
	var out []string
	for _, l := range jsonLines(t, data) {
		s := fmt.Sprintf("%v|%v", l["level"], l["message"])
		if e, ok := l["error"]; ok {
			s += "|" + e.(string)
		}
		if r, ok := l["repeated"]; ok {
			s += fmt.Sprintf("|repeated=%v", r)
		}
		out = append(out, s)
	}
	return out
}

func TestThrottle(t *testing.T) {
	const window = time.Minute
	refused := errors.New("connection refused")
	tests := []struct {
		name string
		run  func(log zerolog.Logger, clk *clock.Fake)
		want []string
	}{
		{
			name: "repeats within the window are dropped, then summarised",
			run: func(log zerolog.Logger, clk *clock.Fake) {
				for range 5 {
					log.Warn().Err(refused).Msg("token request failed")
					clk.Advance(time.Second)
				}
				clk.Advance(window)
				log.Warn().Err(refused).Msg("token request failed")
			},
			want: []string{
				"warn|token request failed|connection refused",
				"warn|token request failed (repeated 4 more times)|connection refused|repeated=4",
				"warn|token request failed|connection refused",
			},
		},
		{
			name: "a different error or level is a different line",
			run: func(log zerolog.Logger, clk *clock.Fake) {
				log.Warn().Err(refused).Msg("upload failed")
				log.Warn().Err(errors.New("timeout")).Msg("upload failed")
				log.Error().Err(refused).Msg("upload failed")
				log.Warn().Err(refused).Str("session", "other").Msg("upload failed")
			},
			want: []string{
				"warn|upload failed|connection refused",
				"warn|upload failed|timeout",
				"error|upload failed|connection refused",
			},
		},
		{
			name: "info is never throttled",
			run: func(log zerolog.Logger, clk *clock.Fake) {
				log.Info().Msg("session reported")
				log.Info().Msg("session reported")
			},
			want: []string{"info|session reported", "info|session reported"},
		},
		{
			name: "a single line has no summary",
			run: func(log zerolog.Logger, clk *clock.Fake) {
				log.Warn().Msg("paused")
				clk.Advance(2 * window)
				log.Info().Msg("resumed")
			},
			want: []string{"warn|paused", "info|resumed"},
		},
		{
			name: "the summary is written on any later line once the window ends",
			run: func(log zerolog.Logger, clk *clock.Fake) {
				log.Error().Msg("disk full")
				log.Error().Msg("disk full")
				clk.Advance(window)
				log.Info().Msg("other")
			},
			want: []string{"error|disk full", "error|disk full (repeated 1 more time)|repeated=1", "info|other"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			clk := clock.NewFake(start)
			log, closer, err := NewWithOptions(config.Log{Level: "debug", Console: "json"}, &buf, false, Options{Clock: clk, ThrottleWindow: window})
			if err != nil {
				t.Fatal(err)
			}
			tt.run(log, clk)
			got := summaryOf(t, buf.Bytes())
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("lines =\n%q\nwant\n%q", got, tt.want)
			}
			if err := closer.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestThrottleCloseFlushes(t *testing.T) {
	var buf bytes.Buffer
	clk := clock.NewFake(start)
	log, closer, err := NewWithOptions(config.Log{Console: "json"}, &buf, false, Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		log.Warn().Msg("fraud host unreachable")
	}
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	got := summaryOf(t, buf.Bytes())
	want := []string{"warn|fraud host unreachable", "warn|fraud host unreachable (repeated 2 more times)|repeated=2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after Close lines = %q, want %q", got, want)
	}
}

func TestThrottleOff(t *testing.T) {
	var buf bytes.Buffer
	log, closer, err := NewWithOptions(config.Log{Console: "json"}, &buf, false, Options{Clock: clock.NewFake(start), ThrottleWindow: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	log.Warn().Msg("x")
	log.Warn().Msg("x")
	if got := len(jsonLines(t, buf.Bytes())); got != 2 {
		t.Errorf("lines with throttling off = %d, want 2", got)
	}
}

func TestThrottleConcurrent(t *testing.T) {
	var buf bytes.Buffer
	clk := clock.NewFake(start)
	log, closer, err := NewWithOptions(config.Log{Console: "json"}, &buf, false, Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 100 {
				log.Warn().Msg("same")
				log.Info().Int("w", w).Int("i", i).Msg("distinct")
			}
		})
	}
	wg.Wait()
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, l := range summaryOf(t, buf.Bytes()) {
		counts[l]++
	}
	if counts["info|distinct"] != 800 || counts["warn|same"] != 1 || counts["warn|same (repeated 799 more times)|repeated=799"] != 1 {
		t.Errorf("line counts = %v, want 800 distinct, 1 same, 1 summary of 799", counts)
	}
}

func BenchmarkLogInfo(b *testing.B) {
	log := benchLogger(b)
	b.ReportAllocs()
	for b.Loop() {
		log.Info().Str("session", "s").Int("bytes", 1).Msg("uploaded")
	}
}

func BenchmarkLogThrottledWarn(b *testing.B) {
	log := benchLogger(b)
	b.ReportAllocs()
	for b.Loop() {
		log.Warn().Err(errors.New("refused")).Msg("token request failed")
	}
}

// benchLogger is a JSON logger writing to nowhere, closed when b ends.
func benchLogger(b *testing.B) zerolog.Logger {
	b.Helper()
	log, closer, err := New(config.Log{Console: "json"}, discard{}, false)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = closer.Close() })
	return log
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
