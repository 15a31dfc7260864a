package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flinkdrop/flinkdrop/internal/testutil"
	"github.com/flinkdrop/flinkdrop/report"
	"github.com/flinkdrop/flinkdrop/store"
)

func TestHappyPathWithoutFraud(t *testing.T) {
	e := newEnv(t)
	p := e.pipeline()
	b1 := e.batch("applicant-1/jan", map[string][]byte{"a.pdf": pdfData, "b.PNG": pngData, "c.jpg": jpegData, "d.tif": tiffData})
	b2 := e.batch("", map[string][]byte{"root.pdf": pdfData})
	if err := e.runOnce(p, b1, b2); err != nil {
		t.Fatalf("Run: %v", err)
	}
	reps := e.reports()
	if len(reps) != 2 {
		t.Fatalf("got %d reports, want 2", len(reps))
	}
	r := reps["applicant-1/jan"]
	if r.Outcome != report.OutcomeUploaded || r.LoginID == "" || r.AggregationID == "" {
		t.Errorf("report outcome %q login %q agg %q, want uploaded with ids", r.Outcome, r.LoginID, r.AggregationID)
	}
	if r.Tag != "t1" || r.ClientName != "c1" {
		t.Errorf("report tag %q client %q, want t1 c1", r.Tag, r.ClientName)
	}
	if r.Times.Completed == nil || r.Times.Uploaded == nil || r.Times.Reported == nil {
		t.Errorf("report times %+v, want uploaded, completed and reported", r.Times)
	}
	for name, st := range fileStatuses(r) {
		if st != report.FileUploaded {
			t.Errorf("file %s status %q, want uploaded", name, st)
		}
	}
	// Every completed aggregation holds each file exactly once.
	done := e.up.completed()
	if got := len(done[r.AggregationID]); got != 4 {
		t.Errorf("aggregation %s holds %d files, want 4: %v", r.AggregationID, got, done[r.AggregationID])
	}
	if n := e.up.completeCalls(r.AggregationID); n != 1 {
		t.Errorf("complete called %d times, want 1", n)
	}
	// Files archived with the report; session folder removed; inbox kept.
	day := r.Times.Reported.Local().Format("2006-01-02")
	want := []string{
		day + "/applicant-1_jan__" + r.LoginID + "/a.pdf",
		day + "/applicant-1_jan__" + r.LoginID + "/applicant-1_jan__" + r.LoginID + ".json",
		day + "/applicant-1_jan__" + r.LoginID + "/b.PNG",
	}
	got := strings.Join(testutil.ListFiles(t, e.archive), "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("archive lacks %s; has:\n%s", w, got)
		}
	}
	if left := testutil.ListFiles(t, e.inbox); len(left) != 0 {
		t.Errorf("inbox still holds %v, want nothing", left)
	}
	if _, err := os.Stat(filepath.Join(e.inbox, "applicant-1")); !os.IsNotExist(err) {
		t.Errorf("emptied session folder not removed (stat err %v)", err)
	}
	if _, err := os.Stat(e.inbox); err != nil {
		t.Errorf("inbox root removed: %v", err)
	}
	if p.Taken(b1.Files[0].Path) {
		t.Errorf("Taken(%s) after done = true, want false", b1.Files[0].Path)
	}
	snap := p.Snapshot()
	if snap.Unfinished != 0 || snap.Counts[store.StateDone] != 2 || snap.Paused {
		t.Errorf("Snapshot = %+v, want 2 done, nothing unfinished, not paused", snap)
	}
}

func TestHookPointsInOrder(t *testing.T) {
	e := newEnv(t)
	e.opts.Workers = 1
	p := e.pipeline()
	if err := e.runOnce(p, e.batch("f", map[string][]byte{"a.pdf": pdfData})); err != nil {
		t.Fatal(err)
	}
	want := "taken before-upload after-upload after-persist-sent before-complete after-complete report-temp-written after-report after-move-file done"
	if got := strings.Join(e.hooks, " "); got != want {
		t.Errorf("hook points:\n got %s\nwant %s", got, want)
	}
}

func TestLimits(t *testing.T) {
	big := append(append([]byte{}, pdfData...), make([]byte, 2000)...)
	tests := []struct {
		name        string
		limits      Limits
		files       map[string][]byte
		wantOutcome string
		wantStatus  map[string]string // file → status
		wantReason  map[string]string // file → part of the reason
		wantError   string            // part of the session's error message
	}{
		{
			name:        "wrong type, disguised png, empty, too big",
			limits:      Limits{MaxFileBytes: 1000},
			files:       map[string][]byte{"ok.pdf": pdfData, "x.docx": pdfData, "png.pdf": pngData, "empty.pdf": {}, "big.pdf": big},
			wantOutcome: report.OutcomeUploaded,
			wantStatus:  map[string]string{"ok.pdf": "uploaded", "x.docx": "rejected", "png.pdf": "rejected", "empty.pdf": "rejected", "big.pdf": "rejected"},
			wantReason:  map[string]string{"x.docx": "not accepted", "png.pdf": "it is a PNG file", "empty.pdf": "empty", "big.pdf": "limits.max_file_mb"},
		},
		{
			name:        "file one byte over the limit: exact bytes",
			limits:      Limits{MaxFileBytes: int64(len(pdfData)) + 100},
			files:       map[string][]byte{"ok.pdf": pdfData, "big.pdf": big[:len(pdfData)+101]},
			wantOutcome: report.OutcomeUploaded,
			wantStatus:  map[string]string{"ok.pdf": "uploaded", "big.pdf": "rejected"},
			wantReason:  map[string]string{"big.pdf": fmt.Sprintf("%d bytes, more than the %d allowed per file (limits.max_file_mb)", len(pdfData)+101, len(pdfData)+100)},
		},
		{
			name:        "too many files",
			files:       nFiles(25),
			wantOutcome: report.OutcomeRejected,
			wantReason:  map[string]string{"f00.pdf": "over its limits"},
		},
		{
			name:        "session too big",
			limits:      Limits{MaxSessionBytes: 1500},
			files:       map[string][]byte{"a.pdf": big[:900], "b.pdf": big[:900]},
			wantOutcome: report.OutcomeRejected,
			wantStatus:  map[string]string{"a.pdf": "rejected", "b.pdf": "rejected"},
			wantError:   "1800 bytes in total, more than the 1500 allowed in one session (limits.max_session_mb)",
		},
		{
			name:        "every file rejected",
			files:       map[string][]byte{"a.txt": pdfData, "b.pdf": jpegData},
			wantOutcome: report.OutcomeRejected,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.opts.Limits = tt.limits
			if err := e.runOnce(e.pipeline(), e.batch("s", tt.files)); err != nil {
				t.Fatal(err)
			}
			r := e.reports()["s"]
			if r.Outcome != tt.wantOutcome {
				t.Fatalf("outcome %q, want %q (error %+v)", r.Outcome, tt.wantOutcome, r.Error)
			}
			st := fileStatuses(r)
			for name, want := range tt.wantStatus {
				if st[name] != want {
					t.Errorf("file %s status %q, want %q", name, st[name], want)
				}
			}
			for _, f := range r.Files {
				if w, ok := tt.wantReason[f.Name]; ok && !strings.Contains(f.Reason, w) {
					t.Errorf("file %s reason %q, want it to mention %q", f.Name, f.Reason, w)
				}
			}
			inFailed := strings.Join(testutil.ListFiles(t, e.failed), "\n")
			inArchive := strings.Join(testutil.ListFiles(t, e.archive), "\n")
			for _, f := range r.Files {
				where := inArchive
				if f.Status == report.FileRejected {
					where = inFailed
				}
				if !strings.Contains(where, "/"+f.Name) {
					t.Errorf("file %s (%s) not in its destination", f.Name, f.Status)
				}
			}
			if tt.wantError != "" && (r.Error == nil || !strings.Contains(r.Error.Message, tt.wantError)) {
				t.Errorf("session error %+v, want a message containing %q", r.Error, tt.wantError)
			}
			if tt.wantOutcome == report.OutcomeRejected {
				if r.Error == nil || r.Error.Message == "" {
					t.Errorf("rejected session has no reason: %+v", r.Error)
				}
				if len(e.up.completed()) != 0 {
					t.Errorf("a rejected session completed an aggregation")
				}
			}
		})
	}
}

func nFiles(n int) map[string][]byte {
	m := map[string][]byte{}
	for i := range n {
		m[fmt.Sprintf("f%02d.pdf", i)] = pdfData
	}
	return m
}

// From the moment a batch is persisted, its paths (and marker) are taken;
// a second batch naming them is ignored.
func TestTakenFromThePersistedBatch(t *testing.T) {
	e := newEnv(t)
	e.opts.Workers = 1
	b := e.batch("tk", map[string][]byte{"a.pdf": pdfData})
	b.Marker = filepath.Join(b.Dir, "READY")
	if err := os.WriteFile(b.Marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var p *Pipeline
	var takenAtHook []bool
	e.opts.Hook = func(point string) {
		if point == "taken" {
			takenAtHook = append(takenAtHook, p.Taken(b.Files[0].Path), p.Taken(b.Marker))
		}
	}
	p = e.pipeline()
	if p.Taken(b.Files[0].Path) {
		t.Fatalf("Taken before the batch = true, want false")
	}
	p.accept(b)
	p.accept(b) // a rescan sending the same files again
	if fmt.Sprint(takenAtHook) != "[true true]" {
		t.Errorf("Taken(file, marker) right after persisting = %v, want [true true] once (the duplicate batch ignored)", takenAtHook)
	}
	if un, _ := e.st.Unfinished(); len(un) != 1 {
		t.Errorf("%d sessions recorded, want 1", len(un))
	}
	if err := e.runOnce(p); err != nil {
		t.Fatal(err)
	}
	if got := len(e.reports()); got != 1 {
		t.Errorf("%d reports, want 1", got)
	}
	if _, err := os.Stat(b.Marker); !os.IsNotExist(err) {
		t.Errorf("marker not removed (stat err %v)", err)
	}
}

func TestNewRejectsIncompleteInbox(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		ib   InboxConfig
	}{
		{"no path", InboxConfig{Outbox: "o", Failed: "f", Archive: "a"}},
		{"no outbox", InboxConfig{Path: "i", Failed: "f", Archive: "a"}},
		{"no failed", InboxConfig{Path: "i", Outbox: "o", Archive: "a"}},
		{"no archive to move to", InboxConfig{Path: "i", Outbox: "o", Failed: "f"}},
		{"bad after_success", InboxConfig{Path: "i", Outbox: "o", Failed: "f", Archive: "a", AfterSuccess: "shred"}},
	}
	for _, tt := range tests {
		opts := e.opts
		opts.Inboxes = []InboxConfig{tt.ib}
		if _, err := New(e.st, e.up, opts); err == nil {
			t.Errorf("New(%s) = nil error, want one", tt.name)
		}
	}
}

// A size and its limit that round to the same MB figure are shown in exact
// bytes; otherwise both in MB.
func TestOverLimit(t *testing.T) {
	tests := []struct {
		n, limit             int64
		wantGot, wantAllowed string
	}{
		{18<<20 + 1, 18 << 20, "18874369 bytes", "18874368"},
		{18<<20 + 60_000, 18 << 20, "18.1 MB", "18.0 MB"},
		{19 << 20, 18 << 20, "19.0 MB", "18.0 MB"},
		{180<<20 + 1, 180 << 20, "188743681 bytes", "188743680"},
		{200 << 20, 180 << 20, "200.0 MB", "180.0 MB"},
	}
	for _, tt := range tests {
		got, allowed := overLimit(tt.n, tt.limit)
		if got != tt.wantGot || allowed != tt.wantAllowed {
			t.Errorf("overLimit(%d, %d) = %q, %q, want %q, %q", tt.n, tt.limit, got, allowed, tt.wantGot, tt.wantAllowed)
		}
	}
}
