package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flinkdrop/flinkdrop/internal/testutil"
	"github.com/flinkdrop/flinkdrop/report"
	"github.com/flinkdrop/flinkdrop/store"
	"github.com/flinkdrop/flinkdrop/uploader"
	"github.com/flinkdrop/flinkdrop/watcher"
)

// A file rewritten after it was sent (same size and mtime, other bytes)
// is caught by the SHA-256 re-check: the session starts over, the first
// aggregation is never completed.
func TestChangedFileBeforeCompleteStartsOver(t *testing.T) {
	e := newEnv(t)
	b := e.batch("chg", map[string][]byte{"a.pdf": pdfData, "b.pdf": pdfData})
	changedOnce := atomic.Bool{}
	e.up.setOnUpload(func(n int, r uploader.UploadRequest) error {
		if r.FileName == "b.pdf" && changedOnce.CompareAndSwap(false, true) {
			// a.pdf was sent; now someone rewrites it in place.
			a := b.Files[0]
			other := []byte(strings.Replace(string(pdfData), "statement", "STATEMENT", 1))
			if err := os.WriteFile(a.Path, other, 0o644); err != nil {
				t.Error(err)
			}
			if err := os.Chtimes(a.Path, a.ModTime, a.ModTime); err != nil {
				t.Error(err)
			}
		}
		return nil
	})
	if err := e.runOnce(e.pipeline(), b); err != nil {
		t.Fatal(err)
	}
	r := e.reports()["chg"]
	if r.Outcome != report.OutcomeUploaded {
		t.Fatalf("outcome %q, want uploaded", r.Outcome)
	}
	if r.AggregationID == "agg-1" {
		t.Errorf("completed the aggregation holding the old content")
	}
	if n := e.up.completeCalls("agg-1"); n != 0 {
		t.Errorf("abandoned agg-1 completed %d times", n)
	}
	got := e.up.completed()[r.AggregationID]
	data, err := os.ReadFile(filesPath(t, e.archive, "a.pdf"))
	if err != nil || string(data) == string(pdfData) {
		t.Errorf("archived a.pdf is not the rewritten content (err %v)", err)
	}
	if len(got) != 2 {
		t.Errorf("fresh aggregation holds %v, want 2 files", got)
	}
	for _, f := range r.Files {
		if f.Name == "a.pdf" && f.SHA256 == sha(pdfData) {
			t.Errorf("report lists the old a.pdf content")
		}
	}
}

func filesPath(t *testing.T, dir, name string) string {
	t.Helper()
	for _, f := range testutil.ListFiles(t, dir) {
		if filepath.Base(f) == name {
			return filepath.Join(dir, f)
		}
	}
	t.Fatalf("%s not under %s", name, dir)
	return ""
}

func TestFileDeletedBeforeComplete(t *testing.T) {
	e := newEnv(t)
	b := e.batch("del", map[string][]byte{"a.pdf": pdfData, "b.pdf": pdfData})
	e.up.setOnUpload(func(n int, r uploader.UploadRequest) error {
		if n == 2 {
			_ = os.Remove(b.Files[0].Path) // a.pdf sent, then deleted
		}
		return nil
	})
	if err := e.runOnce(e.pipeline(), b); err != nil {
		t.Fatal(err)
	}
	r := e.reports()["del"]
	if r.Outcome != report.OutcomeUploaded {
		t.Fatalf("outcome %q, want uploaded", r.Outcome)
	}
	for _, f := range r.Files {
		if f.Name == "a.pdf" && (f.Status != report.FileRejected || !strings.Contains(f.Reason, "deleted before the session completed")) {
			t.Errorf("a.pdf: %+v, want rejected as deleted", f)
		}
	}
	if got := e.up.completed()[r.AggregationID]; len(got) != 1 || !strings.HasPrefix(got[0], "b.pdf:") {
		t.Errorf("completed aggregation holds %v, want only b.pdf", got)
	}
}

func TestServerRejectsOneFile(t *testing.T) {
	e := newEnv(t)
	e.up.setOnUpload(func(n int, r uploader.UploadRequest) error {
		if r.FileName == "bad.pdf" {
			return &uploader.Error{Kind: uploader.Rejected, Op: "upload", HTTPStatus: 422, Message: "document is encrypted"}
		}
		return nil
	})
	b := e.batch("rej", map[string][]byte{"bad.pdf": pdfData, "good.pdf": pdfData})
	if err := e.runOnce(e.pipeline(), b); err != nil {
		t.Fatal(err)
	}
	r := e.reports()["rej"]
	if r.Outcome != report.OutcomeUploaded {
		t.Fatalf("outcome %q, want uploaded", r.Outcome)
	}
	st := fileStatuses(r)
	if st["bad.pdf"] != "rejected" || st["good.pdf"] != "uploaded" {
		t.Errorf("statuses %v, want bad rejected, good uploaded", st)
	}
	for _, f := range r.Files {
		if f.Name == "bad.pdf" && (!strings.Contains(f.Reason, "422") || !strings.Contains(f.Reason, "document is encrypted")) {
			t.Errorf("bad.pdf reason %q, want the server's status and message", f.Reason)
		}
	}
	if !strings.Contains(strings.Join(testutil.ListFiles(t, e.failed), " "), "bad.pdf") {
		t.Errorf("bad.pdf not in failed/: %v", testutil.ListFiles(t, e.failed))
	}
}

func TestProtocolErrorFailsSession(t *testing.T) {
	e := newEnv(t)
	e.up.setOnUpload(func(n int, r uploader.UploadRequest) error {
		return &uploader.Error{Kind: uploader.Protocol, Op: "upload", HTTPStatus: 200, Message: "reply is not JSON"}
	})
	if err := e.runOnce(e.pipeline(), e.batch("proto", map[string][]byte{"a.pdf": pdfData})); err != nil {
		t.Fatal(err)
	}
	r := e.reports()["proto"]
	if r.Outcome != report.OutcomeFailed || r.Error == nil || r.Error.Stage != "upload" || !strings.Contains(r.Error.Message, "not JSON") {
		t.Errorf("outcome %q error %+v, want failed at upload with the message", r.Outcome, r.Error)
	}
}

func TestTransientErrorsRetried(t *testing.T) {
	e := newEnv(t)
	e.up.setOnUpload(func(n int, r uploader.UploadRequest) error {
		switch n {
		case 1: // first file, no aggregation yet: plain retry
			return &uploader.Error{Kind: uploader.Transient, Op: "upload", HTTPStatus: 503}
		case 3: // second file on agg: in doubt, start over
			return &uploader.Error{Kind: uploader.Transient, Op: "upload", Message: "timeout"}
		case 5: // 429: never reached the aggregation, plain retry
			return &uploader.Error{Kind: uploader.Transient, Op: "upload", HTTPStatus: 429, RetryAfter: time.Millisecond}
		}
		return nil
	})
	var completes atomic.Int32
	e.up.onComplete = func(string) error {
		if completes.Add(1) <= 2 {
			return &uploader.Error{Kind: uploader.Transient, Op: "complete", HTTPStatus: 502}
		}
		return nil
	}
	b := e.batch("tr", map[string][]byte{"a.pdf": pdfData, "b.pdf": pdfData})
	if err := e.runOnce(e.pipeline(), b); err != nil {
		t.Fatal(err)
	}
	r := e.reports()["tr"]
	if r.Outcome != report.OutcomeUploaded {
		t.Fatalf("outcome %q (%+v), want uploaded", r.Outcome, r.Error)
	}
	done := e.up.completed()
	if len(done) != 1 || len(done[r.AggregationID]) != 2 {
		t.Errorf("completed aggregations %v, want one holding each file once", done)
	}
}

// A credentials error closes the one gate: no session fails, files stay,
// the status says why, and everything goes on once the fake accepts again.
func TestCredentialsPauseEveryWorker(t *testing.T) {
	e := newEnv(t)
	e.opts.Once = false
	e.opts.Workers = 3
	var refuse atomic.Bool
	refuse.Store(true)
	var refusedCalls atomic.Int32
	e.up.setOnUpload(func(n int, r uploader.UploadRequest) error {
		if refuse.Load() {
			refusedCalls.Add(1)
			return &uploader.Error{Kind: uploader.Credentials, Op: "token", HTTPStatus: 401, Message: "invalid_client"}
		}
		return nil
	})
	p := e.pipeline()
	ch := make(chan watcher.Batch, 3)
	for _, f := range []string{"one", "two", "three"} {
		ch <- e.batch(f, map[string][]byte{"a.pdf": pdfData})
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx, ch) }()
	defer func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	}()

	eventually(t, "the gate to close", func() bool { return p.Snapshot().Paused })
	// Let the prober retry a few times: the others wait at the gate.
	eventually(t, "a few probes", func() bool { return refusedCalls.Load() >= 5 })
	snap := p.Snapshot()
	if !strings.Contains(snap.PausedReason, "invalid_client") {
		t.Errorf("PausedReason %q, want the cause", snap.PausedReason)
	}
	if snap.Counts[store.StateReporting]+snap.Counts[store.StateDone] != 0 {
		t.Errorf("sessions finished while paused: %v", snap.Counts)
	}
	if got := testutil.ListFiles(t, e.outbox); len(got) != 0 {
		t.Errorf("reports written while paused: %v", got)
	}
	if got := len(testutil.ListFiles(t, e.inbox)); got != 3 {
		t.Errorf("inbox holds %d files while paused, want 3", got)
	}
	before := refusedCalls.Load()
	eventually(t, "more probes", func() bool { return refusedCalls.Load() >= before+3 })
	// Every refused call after the first three (one per worker at most)
	// comes from the prober: workers do not hammer the server.
	if p.Snapshot().InFlight != 3 {
		t.Errorf("InFlight = %d, want 3 held at the gate", p.Snapshot().InFlight)
	}

	refuse.Store(false)
	eventually(t, "every session done", func() bool { return p.Snapshot().Unfinished == 0 })
	if p.Snapshot().Paused {
		t.Errorf("still paused after the credentials work again")
	}
	reps := e.reports()
	for _, f := range []string{"one", "two", "three"} {
		if reps[f].Outcome != report.OutcomeUploaded {
			t.Errorf("session %s outcome %q, want uploaded", f, reps[f].Outcome)
		}
	}
}

func TestCredentialsEndOnceRun(t *testing.T) {
	e := newEnv(t)
	e.up.setOnUpload(func(n int, r uploader.UploadRequest) error {
		return &uploader.Error{Kind: uploader.Credentials, Op: "upload", HTTPStatus: 403, Message: "certificate not trusted"}
	})
	b := e.batch("cred", map[string][]byte{"a.pdf": pdfData})
	err := e.runOnce(e.pipeline(), b)
	if !errors.Is(err, ErrCredentials) || !strings.Contains(err.Error(), "certificate not trusted") {
		t.Fatalf("Run = %v, want ErrCredentials with the cause", err)
	}
	if _, err := os.Stat(b.Files[0].Path); err != nil {
		t.Errorf("file moved after a credentials error: %v", err)
	}
	if got := testutil.ListFiles(t, e.outbox); len(got) != 0 {
		t.Errorf("report written after a credentials error: %v", got)
	}
	un, _ := e.st.Unfinished()
	if len(un) != 1 || un[0].State != store.StateUploading {
		t.Errorf("unfinished = %v, want the session left in uploading", un)
	}
}

// An outbox that cannot be written holds the session in reporting: no file
// moves, the status shows the error, and it goes on once the outbox is back.
func TestOutboxNotWritableWaits(t *testing.T) {
	e := newEnv(t)
	e.opts.Once = false
	if err := os.Remove(e.outbox); err != nil {
		t.Fatal(err)
	}
	p := e.pipeline()
	b := e.batch("ob", map[string][]byte{"a.pdf": pdfData})
	ch := make(chan watcher.Batch, 1)
	ch <- b
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx, ch) }()

	eventually(t, "the outbox error in the status", func() bool {
		return strings.Contains(p.Snapshot().LastError.Message, "outbox")
	})
	s, _ := e.st.Unfinished()
	if len(s) != 1 || s[0].State != store.StateReporting {
		t.Fatalf("unfinished %v, want one session waiting in reporting", s)
	}
	if _, err := os.Stat(b.Files[0].Path); err != nil {
		t.Errorf("file moved before its report was written: %v", err)
	}
	if err := os.Mkdir(e.outbox, 0o755); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the session to finish", func() bool { return p.Snapshot().Unfinished == 0 })
	if got := e.reports()["ob"].Outcome; got != report.OutcomeUploaded {
		t.Errorf("outcome %q, want uploaded", got)
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestAfterSuccessDelete(t *testing.T) {
	e := newEnv(t)
	e.opts.Inboxes[0].AfterSuccess = AfterSuccessDelete
	b := e.batch("del", map[string][]byte{"a.pdf": pdfData, "x.txt": pdfData})
	b.Marker = filepath.Join(b.Dir, "READY")
	if err := os.WriteFile(b.Marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.runOnce(e.pipeline(), b); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ListFiles(t, e.archive); len(got) != 0 {
		t.Errorf("archive holds %v, want nothing with after_success delete", got)
	}
	if got := testutil.ListFiles(t, e.inbox); len(got) != 0 {
		t.Errorf("inbox holds %v, want the uploaded file deleted and the marker removed", got)
	}
	if got := strings.Join(testutil.ListFiles(t, e.failed), " "); !strings.Contains(got, "x.txt") || !strings.Contains(got, ".json") {
		t.Errorf("failed/ holds %q, want the rejected file with the report", got)
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// A token request that fails in the middle of a session never sent the
// upload: the file is retried on the same aggregation, not a fresh one.
func TestTokenErrorMidSessionKeepsAggregation(t *testing.T) {
	e := newEnv(t)
	e.up.setOnUpload(func(n int, r uploader.UploadRequest) error {
		if n == 2 {
			return &uploader.Error{Kind: uploader.Transient, Op: "token", HTTPStatus: 503, Message: "token endpoint unavailable"}
		}
		return nil
	})
	b := e.batch("tok", map[string][]byte{"a.pdf": pdfData, "b.pdf": pdfData})
	if err := e.runOnce(e.pipeline(), b); err != nil {
		t.Fatal(err)
	}
	r := e.reports()["tok"]
	if r.Outcome != report.OutcomeUploaded {
		t.Fatalf("outcome %q (%+v), want uploaded", r.Outcome, r.Error)
	}
	e.up.mu.Lock()
	aggs := e.up.next
	e.up.mu.Unlock()
	if aggs != 1 {
		t.Errorf("%d aggregations created, want 1: a token failure put the upload in doubt", aggs)
	}
}

// A transient error met while probing after a credentials pause is an
// upload in doubt like any other: the session starts over on a fresh
// aggregation, and the one that may hold the file twice is never completed.
func TestTransientWhileProbingStartsOver(t *testing.T) {
	e := newEnv(t)
	e.opts.Once = false
	e.up.setOnUpload(func(n int, r uploader.UploadRequest) error {
		if n == 2 { // b.pdf on agg-1: credentials refused
			return &uploader.Error{Kind: uploader.Credentials, Op: "upload", HTTPStatus: 403, Message: "certificate not trusted"}
		}
		return nil
	})
	e.up.mu.Lock()
	e.up.onStored = func(n int, r uploader.UploadRequest) error {
		if n == 3 { // the probe reaches agg-1, then the reply is lost
			return &uploader.Error{Kind: uploader.Transient, Op: "upload", HTTPStatus: 502, Message: "bad gateway"}
		}
		return nil
	}
	e.up.mu.Unlock()
	p := e.pipeline()
	ch := make(chan watcher.Batch, 1)
	ch <- e.batch("probe", map[string][]byte{"a.pdf": pdfData, "b.pdf": pdfData})
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx, ch) }()
	defer func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	}()
	eventually(t, "the session to finish", func() bool { return p.Snapshot().Unfinished == 0 && p.Snapshot().Counts[store.StateDone] == 1 })

	r := e.reports()["probe"]
	if r.Outcome != report.OutcomeUploaded {
		t.Fatalf("outcome %q (%+v), want uploaded", r.Outcome, r.Error)
	}
	if n := e.up.completeCalls("agg-1"); n != 0 {
		t.Errorf("agg-1 (b.pdf in doubt) completed %d times, want never", n)
	}
	for id, files := range e.up.completed() {
		if len(files) != 2 || !strings.HasPrefix(files[0], "a.pdf:") || !strings.HasPrefix(files[1], "b.pdf:") {
			t.Errorf("completed %s holds %v, want [a.pdf b.pdf] once each", id, files)
		}
	}
	if p.Snapshot().Paused {
		t.Errorf("still paused after the credentials got through")
	}
}

// A file overwritten under the same name while its session polls is new
// content that was never sent: it stays in the inbox (neither archived nor
// deleted), is no longer taken once the session is done, and the report
// still describes the content uploaded.
func TestOverwrittenWhilePollingStaysInInbox(t *testing.T) {
	newer := []byte(strings.Replace(string(pdfData), "statement", "STATEMENT", 1)) // same size
	tests := []struct {
		name         string
		afterSuccess string
		content      []byte
		keepMtime    bool
	}{
		{"move, bigger", AfterSuccessMove, append(append([]byte{}, pdfData...), "more\n"...), false},
		{"move, same size and mtime", AfterSuccessMove, newer, true},
		{"delete, bigger", AfterSuccessDelete, append(append([]byte{}, pdfData...), "more\n"...), false},
		{"delete, same size and mtime", AfterSuccessDelete, newer, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.opts.Inboxes[0].AfterSuccess = tt.afterSuccess
			b := e.batch("ow", map[string][]byte{"a.pdf": pdfData, "b.pdf": pdfData})
			p, clk, quiet := runFake(t, e, []watcher.Batch{b})
			eventually(t, "polling", func() bool { return p.Snapshot().Counts[store.StatePolling] == 1 })
			quiet()
			a := b.Files[0]
			if err := os.WriteFile(a.Path, tt.content, 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.keepMtime {
				if err := os.Chtimes(a.Path, a.ModTime, a.ModTime); err != nil {
					t.Fatal(err)
				}
			}
			clk.Advance(30 * time.Second)
			eventually(t, "the session done", func() bool { return p.Snapshot().Unfinished == 0 })

			got, err := os.ReadFile(a.Path)
			if err != nil {
				t.Fatalf("overwritten a.pdf is gone from the inbox: %v", err)
			}
			if string(got) != string(tt.content) {
				t.Errorf("inbox a.pdf holds %q, want the new content", got)
			}
			if p.Taken(a.Path) {
				t.Errorf("a.pdf still taken after its session is done: it would never become a new session")
			}
			for _, f := range testutil.ListFiles(t, e.archive) {
				if filepath.Base(f) == "a.pdf" {
					t.Errorf("archive holds %s, want the overwritten a.pdf left in the inbox", f)
				}
			}
			if _, err := os.Stat(b.Files[1].Path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("unchanged b.pdf still in the inbox (err %v), want it archived or deleted", err)
			}
			r := e.reports()["ow"]
			for _, f := range r.Files {
				if f.Status != report.FileUploaded || f.SHA256 != sha(pdfData) {
					t.Errorf("report file %+v, want uploaded with the content sent", f)
				}
			}
		})
	}
}
