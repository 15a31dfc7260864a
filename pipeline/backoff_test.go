package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/clock"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
	"github.com/flinkdrop/flinkdrop/report"
	"github.com/flinkdrop/flinkdrop/uploader"
)

// transientWaits returns the retry_in of every "transient error: retrying"
// line in the JSON log.
func transientWaits(t *testing.T, log string) []time.Duration {
	t.Helper()
	var out []time.Duration
	sc := bufio.NewScanner(bytes.NewReader([]byte(log)))
	for sc.Scan() {
		var line struct {
			Message string  `json:"message"`
			RetryIn float64 `json:"retry_in"` // zerolog's default: milliseconds
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if line.Message == "transient error: retrying" {
			out = append(out, time.Duration(line.RetryIn*float64(time.Millisecond)))
		}
	}
	return out
}

// The wait after a transient upload error grows with the session's
// transient errors since its last successful call, not with its attempts:
// after a success the next error waits Base again. Retry-After is honoured
// when longer than the backoff.
func TestTransientBackoffResetsAfterSuccess(t *testing.T) {
	e := newEnv(t)
	clk := clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	logs := &testutil.SyncBuffer{} // the workers write concurrently
	e.opts.Clock = clk
	e.opts.Workers = 1
	e.opts.Log = zerolog.New(logs).Level(zerolog.DebugLevel)
	e.opts.Backoff = uploader.Backoff{Base: time.Second, Max: time.Minute, Jitter: 1, Rand: func() float64 { return 0 }}
	unavailable := &uploader.Error{Kind: uploader.Transient, Op: "upload", HTTPStatus: 503, Message: "unavailable"}
	e.up.setOnUpload(func(n int, r uploader.UploadRequest) error {
		switch n {
		case 2, 3: // b on agg-1 in doubt, then a on agg-2: two in a row
			return unavailable
		case 5: // b, after a's success: Retry-After longer than Base
			return &uploader.Error{Kind: uploader.Transient, Op: "upload", HTTPStatus: 503, RetryAfter: 7 * time.Second}
		case 7: // b, after a's success again
			return unavailable
		}
		return nil
	})
	b := e.batch("bo", map[string][]byte{"a.pdf": pdfData, "b.pdf": pdfData})
	p := e.pipeline()

	// Move the clock past any retry wait (at most Max) while one is armed.
	ctx, cancel := context.WithCancel(context.Background())
	driven := make(chan struct{})
	go func() {
		defer close(driven)
		for ctx.Err() == nil {
			if p.Snapshot().RetryingTransient > 0 {
				clk.Advance(time.Minute)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	err := e.runOnce(p, b)
	cancel()
	<-driven
	if err != nil {
		t.Fatal(err)
	}

	got := transientWaits(t, logs.String())
	want := []time.Duration{time.Second, 2 * time.Second, 7 * time.Second, time.Second}
	if len(got) != len(want) {
		t.Fatalf("transient waits %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("transient wait %d = %v, want %v (all: %v)", i+1, got[i], want[i], got)
		}
	}
	r := e.reports()["bo"]
	if r.Outcome != report.OutcomeUploaded {
		t.Fatalf("outcome %q (%+v), want uploaded", r.Outcome, r.Error)
	}
	if done := e.up.completed(); len(done) != 1 || len(done[r.AggregationID]) != 2 {
		t.Errorf("completed aggregations %v, want one holding each file once", done)
	}
	p.mu.Lock()
	left := len(p.transients)
	p.mu.Unlock()
	if left != 0 {
		t.Errorf("%d sessions still counted in transients after every session is done, want 0", left)
	}
}

// The credentials probe has its own cap: retry.max bounds network retries,
// retry.credentials_max the probe.
func TestCredentialsDelayHasItsOwnCap(t *testing.T) {
	noJitter := func() float64 { return 0 }
	p := &Pipeline{opts: Options{
		Backoff:        uploader.Backoff{Base: time.Second, Max: 4 * time.Second, Jitter: 1, Rand: noJitter},
		CredentialsMax: 30 * time.Second,
	}}
	for _, tt := range []struct {
		try        int
		transient  time.Duration
		credential time.Duration
	}{
		{1, time.Second, time.Second},
		{3, 4 * time.Second, 4 * time.Second},
		{5, 4 * time.Second, 16 * time.Second},
		{10, 4 * time.Second, 30 * time.Second},
	} {
		if got := p.delay(tt.try, DefaultTransientMax); got != tt.transient {
			t.Errorf("delay(%d) = %v, want %v", tt.try, got, tt.transient)
		}
		if got := p.credentialsDelay(tt.try); got != tt.credential {
			t.Errorf("credentialsDelay(%d) = %v, want %v", tt.try, got, tt.credential)
		}
	}
	p.opts.CredentialsMax = 0
	if got := p.credentialsDelay(20); got != DefaultCredentialsMax {
		t.Errorf("credentialsDelay(20) with no cap set = %v, want %v", got, DefaultCredentialsMax)
	}
}
