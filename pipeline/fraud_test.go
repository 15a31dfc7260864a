package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flinkdrop/flinkdrop/internal/clock"
	"github.com/flinkdrop/flinkdrop/report"
	"github.com/flinkdrop/flinkdrop/store"
	"github.com/flinkdrop/flinkdrop/uploader"
	"github.com/flinkdrop/flinkdrop/watcher"
)

// fraudScript answers FraudAnalysis: not done for the first notYet polls of
// each login, then done with the signals given by signals(login).
type fraudScript struct {
	mu      sync.Mutex
	polls   map[string]int
	notYet  int
	signals func(login string) int
	failed  bool
	total   int
}

func (f *fraudScript) answer(login string) (uploader.FraudResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.polls[login]++
	f.total++
	if f.polls[login] <= f.notYet {
		return uploader.FraudResult{Done: false, LoginID: login}, nil // e.g. a 404: not yet
	}
	r := cleanResult(login)
	if f.signals != nil {
		if n := f.signals(login); n > 0 {
			r.SignalCount = n
			r.Documents = []json.RawMessage{json.RawMessage(`{"Status":"COMPLETED","FullAnalysis":[{"FraudSignals":[{"Type":"X"}]}]}`)}
		}
	}
	if f.failed {
		r.Failed = true
		r.Documents = []json.RawMessage{json.RawMessage(`{"Status":"FAILED"}`)}
	}
	return r, nil
}

func (f *fraudScript) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}

// runFake starts the pipeline on a fake clock; it returns the clock and a
// function that waits until no worker has anything to do.
func runFake(t *testing.T, e *env, batches []watcher.Batch) (*Pipeline, *clock.Fake, func()) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	e.opts.Clock = clk
	e.opts.Once = false
	e.opts.FraudEnabled = true
	e.opts.PollInterval = 30 * time.Second
	p := e.pipeline()
	ch := make(chan watcher.Batch, len(batches))
	for _, b := range batches {
		ch <- b
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx, ch) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	quiet := func() {
		t.Helper()
		eventually(t, "the workers to go idle", func() bool {
			return len(ch) == 0 && p.queue.busy() == 0 && p.Snapshot().InFlight == 0
		})
	}
	return p, clk, quiet
}

// A thousand sessions poll at once with two workers: polling holds no
// worker, each poll is a short task dispatched by the schedule.
func TestFraudPollingThousandSessionsTwoWorkers(t *testing.T) {
	const n = 1000
	e := newEnv(t)
	e.opts.Workers = 2
	script := &fraudScript{polls: map[string]int{}, notYet: 1, signals: func(login string) int {
		if len(login)%2 == 0 {
			return 2
		}
		return 0
	}}
	e.up.fraud = script.answer
	batches := make([]watcher.Batch, n)
	for i := range batches {
		batches[i] = e.batch(fmt.Sprintf("s%04d", i), map[string][]byte{"a.pdf": pdfData})
	}
	p, clk, quiet := runFake(t, e, batches)

	// A thousand sessions take from a few seconds to half a minute to get
	// here, with the machine's load: wait on progress, not a deadline.
	progressing(t, "every session to reach polling", n, func() int {
		return p.Snapshot().Counts[store.StatePolling]
	})
	quiet()
	snap := p.Snapshot()
	if snap.Scheduled != n || snap.InFlight != 0 {
		t.Fatalf("with %d sessions polling: scheduled %d, in flight %d; want all scheduled, no worker held", n, snap.Scheduled, snap.InFlight)
	}
	if got := script.count(); got != 0 {
		t.Fatalf("polled %d times before the interval passed, want 0", got)
	}

	clk.Advance(30 * time.Second) // first poll: not yet
	progressing(t, "the first round of polls", n, script.count)
	quiet()
	if got := p.Snapshot().Counts[store.StatePolling]; got != n {
		t.Fatalf("after a not-yet round, %d polling, want %d", got, n)
	}

	clk.Advance(30 * time.Second) // second poll: done
	progressing(t, "every session done", n, func() int { return n - p.Snapshot().Unfinished })
	if got := script.count(); got != 2*n {
		t.Errorf("%d polls, want exactly %d (two per session)", got, 2*n)
	}
	outcomes := map[string]int{}
	for _, r := range e.readReports(50) {
		outcomes[r.Outcome]++
		if r.Times.Analysed == nil || r.Fraud == nil {
			t.Errorf("report %s lacks analysed time or fraud: %+v", r.SessionID, r)
			break
		}
	}
	if outcomes[report.OutcomeClean]+outcomes[report.OutcomeFraudSignals] != n || outcomes[report.OutcomeFraudSignals] == 0 || outcomes[report.OutcomeClean] == 0 {
		t.Errorf("outcomes %v, want %d split between clean and fraud_signals", outcomes, n)
	}
}

func TestFraudTimeout(t *testing.T) {
	e := newEnv(t)
	e.opts.FraudTimeout = 2 * time.Minute
	script := &fraudScript{polls: map[string]int{}, notYet: 1 << 30}
	e.up.fraud = script.answer
	p, clk, quiet := runFake(t, e, []watcher.Batch{e.batch("slow", map[string][]byte{"a.pdf": pdfData})})
	eventually(t, "polling", func() bool { return p.Snapshot().Counts[store.StatePolling] == 1 })
	for i := 0; p.Snapshot().Unfinished > 0; i++ {
		if i > 10 {
			t.Fatalf("not timed out after %d intervals (timeout is 4 intervals)", i)
		}
		quiet()
		clk.Advance(30 * time.Second)
		eventually(t, "the poll", func() bool { return script.count() >= i+1 || p.Snapshot().Unfinished == 0 })
		quiet()
	}
	r := e.reports()["slow"]
	if r.Outcome != report.OutcomeTimedOut {
		t.Errorf("outcome %q, want timed_out", r.Outcome)
	}
	if got := script.count(); got != 4 {
		t.Errorf("%d polls before timing out, want 4 (every 30s for 2m)", got)
	}
}

func TestFraudOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		script    *fraudScript
		want      string
		wantStage string
	}{
		{"clean", &fraudScript{}, report.OutcomeClean, ""},
		{"signals", &fraudScript{signals: func(string) int { return 3 }}, report.OutcomeFraudSignals, ""},
		{"document failed", &fraudScript{failed: true}, report.OutcomeFailed, "analysis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.opts.FraudEnabled = true
			tt.script.polls = map[string]int{}
			tt.script.notYet = 2
			e.up.fraud = tt.script.answer
			if err := e.runOnce(e.pipeline(), e.batch("f", map[string][]byte{"a.pdf": pdfData})); err != nil {
				t.Fatal(err)
			}
			r := e.reports()["f"]
			if r.Outcome != tt.want {
				t.Errorf("outcome %q, want %q", r.Outcome, tt.want)
			}
			if tt.wantStage != "" && (r.Error == nil || r.Error.Stage != tt.wantStage) {
				t.Errorf("error %+v, want stage %s", r.Error, tt.wantStage)
			}
			if r.Fraud == nil || len(r.Fraud.Documents) == 0 {
				t.Errorf("fraud documents not kept: %+v", r.Fraud)
			}
			if r.RequestID == "" {
				t.Errorf("request_id empty")
			}
		})
	}
}

// A fraud reply the client cannot read (no Status, a proxy's HTML page) is
// no verdict: polling goes on, the status shows the error, and the session
// ends clean once a real answer comes, or timed_out at fraud.timeout.
func TestFraudUnreadableReplyPollsAgain(t *testing.T) {
	tests := []struct {
		name       string
		unreadable int // polls answered with a Protocol error first
		want       string
	}{
		{"then a verdict", 3, report.OutcomeClean},
		{"until the timeout", 1 << 30, report.OutcomeTimedOut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.opts.FraudEnabled = true
			e.opts.FraudTimeout = 100 * time.Millisecond
			var mu sync.Mutex
			polls := 0
			e.up.fraud = func(login string) (uploader.FraudResult, error) {
				mu.Lock()
				defer mu.Unlock()
				polls++
				if polls <= tt.unreadable {
					return uploader.FraudResult{}, &uploader.Error{Kind: uploader.Protocol, Op: "fraud", HTTPStatus: 200, Message: "fraud reply DocumentAnalysis[0] has no Status"}
				}
				return cleanResult(login), nil
			}
			p := e.pipeline()
			if err := e.runOnce(p, e.batch("f", map[string][]byte{"a.pdf": pdfData})); err != nil {
				t.Fatal(err)
			}
			r := e.reports()["f"]
			if r.Outcome != tt.want {
				t.Errorf("outcome %q (error %+v), want %q", r.Outcome, r.Error, tt.want)
			}
			if r.Error != nil {
				t.Errorf("report error %+v, want none", r.Error)
			}
			if got := p.Snapshot().LastError.Message; !strings.Contains(got, "no Status") {
				t.Errorf("status last error %q, want the unreadable reply", got)
			}
			mu.Lock()
			defer mu.Unlock()
			if polls < 2 {
				t.Errorf("polled %d times, want polling to go on after an unreadable reply", polls)
			}
		})
	}
}
