package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flinkdrop/flinkdrop/internal/clock"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
	"github.com/flinkdrop/flinkdrop/report"
	"github.com/flinkdrop/flinkdrop/store"
	"github.com/flinkdrop/flinkdrop/uploader"
	"github.com/flinkdrop/flinkdrop/watcher"
)

// seed records a two-file session in state taken, as accept would.
func (e *env) seed() store.Session {
	e.t.Helper()
	b := e.batch("resume", map[string][]byte{"a.pdf": pdfData, "b.png": pngData})
	s := store.Session{Inbox: b.Inbox, Folder: b.Folder, Dir: b.Dir, Tag: "t1", ClientName: "c1", Times: store.Times{FirstSeen: time.Now()}}
	for _, f := range b.Files {
		s.Files = append(s.Files, store.File{Path: f.Path, Name: f.Name, Size: f.Size, ModTime: f.ModTime})
	}
	s, err := e.st.Create(s)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) set(s store.Session, fn func(*store.Session)) store.Session {
	e.t.Helper()
	s, err := e.st.Update(s.ID, func(x *store.Session) error { fn(x); return nil })
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// send uploads file i through the fake and records it sent.
func (e *env) send(s store.Session, i int) store.Session {
	e.t.Helper()
	f := s.Files[i]
	s = e.set(s, func(x *store.Session) { x.Files[i].State = store.FileSending })
	res, err := e.up.Upload(context.Background(), uploader.UploadRequest{AggregationID: s.AggregationID, FileName: f.Name, Path: f.Path})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.set(s, func(x *store.Session) {
		x.AggregationID = res.AggregationID
		x.Files[i].State, x.Files[i].SHA256 = store.FileSent, res.SHA256
	})
}

func (e *env) uploaded() store.Session {
	e.t.Helper()
	s := e.seed()
	s = e.set(s, func(x *store.Session) { x.State, x.Attempt = store.StateUploading, 1 })
	s = e.send(s, 0)
	s = e.send(s, 1)
	return e.set(s, func(x *store.Session) { x.State, x.Times.Uploaded = store.StateCompleting, time.Now() })
}

func (e *env) completed() store.Session {
	e.t.Helper()
	s := e.uploaded()
	res, err := e.up.Complete(context.Background(), s.AggregationID)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.set(s, func(x *store.Session) {
		x.LoginID, x.Times.Completed = res.LoginID, time.Now()
		x.State, x.NextPollAt = store.StatePolling, time.Now().Add(-time.Second)
	})
}

func (e *env) reporting() store.Session {
	e.t.Helper()
	s := e.completed()
	return e.set(s, func(x *store.Session) {
		x.State, x.Outcome, x.Times.Reported = store.StateReporting, report.OutcomeClean, time.Now()
		x.Fraud = &store.Fraud{Documents: cleanResult(x.LoginID).Documents}
	})
}

// TestResumeFromEveryState builds a store in each state a crash can leave,
// runs the pipeline and checks where the session ends.
func TestResumeFromEveryState(t *testing.T) {
	tests := []struct {
		name  string
		build func(e *env) store.Session
		// check gets the report and the session id.
		wantOutcome string
		check       func(t *testing.T, e *env, r report.Report, seeded store.Session)
	}{
		{
			name:        "taken",
			build:       func(e *env) store.Session { return e.seed() },
			wantOutcome: report.OutcomeClean,
		},
		{
			name: "uploading, nothing sent",
			build: func(e *env) store.Session {
				return e.set(e.seed(), func(x *store.Session) { x.State, x.Attempt = store.StateUploading, 1 })
			},
			wantOutcome: report.OutcomeClean,
		},
		{
			name: "uploading, one sent",
			build: func(e *env) store.Session {
				s := e.set(e.seed(), func(x *store.Session) { x.State, x.Attempt = store.StateUploading, 1 })
				return e.send(s, 0)
			},
			wantOutcome: report.OutcomeClean,
			check: func(t *testing.T, e *env, r report.Report, seeded store.Session) {
				if r.AggregationID != seeded.AggregationID {
					t.Errorf("aggregation %q, want the one in progress %q", r.AggregationID, seeded.AggregationID)
				}
			},
		},
		{
			name: "uploading, one in doubt",
			build: func(e *env) store.Session {
				s := e.set(e.seed(), func(x *store.Session) { x.State, x.Attempt = store.StateUploading, 1 })
				s = e.send(s, 0)
				// The second upload reached the server, but the crash came
				// before its reply was persisted.
				s = e.set(s, func(x *store.Session) { x.Files[1].State = store.FileSending })
				if _, err := e.up.Upload(context.Background(), uploader.UploadRequest{AggregationID: s.AggregationID, FileName: "b.png", Path: s.Files[1].Path}); err != nil {
					t.Fatal(err)
				}
				return s
			},
			wantOutcome: report.OutcomeClean,
			check: func(t *testing.T, e *env, r report.Report, seeded store.Session) {
				if r.AggregationID == seeded.AggregationID {
					t.Errorf("went on with the in-doubt aggregation %s, want a fresh one", r.AggregationID)
				}
				if n := e.up.completeCalls(seeded.AggregationID); n != 0 {
					t.Errorf("abandoned aggregation completed %d times, want never", n)
				}
				if got := e.up.completed()[r.AggregationID]; len(got) != 2 {
					t.Errorf("fresh aggregation holds %v, want each file once", got)
				}
				s, _ := e.st.Get(seeded.ID)
				if s.Attempt != 2 {
					t.Errorf("attempt %d, want 2", s.Attempt)
				}
			},
		},
		{
			name:        "completing, complete not yet heard",
			build:       func(e *env) store.Session { return e.uploaded() },
			wantOutcome: report.OutcomeClean,
			check: func(t *testing.T, e *env, r report.Report, seeded store.Session) {
				if n := e.up.completeCalls(seeded.AggregationID); n != 1 {
					t.Errorf("complete called %d times, want 1", n)
				}
			},
		},
		{
			name: "completing, first call went through unheard",
			build: func(e *env) store.Session {
				s := e.uploaded()
				if _, err := e.up.Complete(context.Background(), s.AggregationID); err != nil {
					t.Fatal(err)
				}
				return s
			},
			wantOutcome: report.OutcomeFailed,
			check: func(t *testing.T, e *env, r report.Report, seeded store.Session) {
				if r.Error == nil || r.Error.Stage != "complete" || r.Error.HTTPStatus != 409 {
					t.Fatalf("error %+v, want stage complete, HTTP 409", r.Error)
				}
				if r.AggregationID != seeded.AggregationID || !strings.Contains(r.Error.Message, seeded.AggregationID) {
					t.Errorf("report does not name the aggregation %s: %+v", seeded.AggregationID, r.Error)
				}
				if left := testutil.ListFiles(t, e.archive); len(left) != 0 {
					t.Errorf("failed session archived %v", left)
				}
				if got := testutil.ListFiles(t, e.failed); len(got) != 3 {
					t.Errorf("failed/ holds %v, want both files and the report", got)
				}
			},
		},
		{
			name:        "polling",
			build:       func(e *env) store.Session { return e.completed() },
			wantOutcome: report.OutcomeClean,
		},
		{
			name:        "reporting",
			build:       func(e *env) store.Session { return e.reporting() },
			wantOutcome: report.OutcomeClean,
		},
		{
			name: "reporting, report already written",
			build: func(e *env) store.Session {
				s := e.reporting()
				if _, err := report.Write(e.outbox, report.SessionBase(reportName(s), s.LoginID), buildReport(s)); err != nil {
					t.Fatal(err)
				}
				return s
			},
			wantOutcome: report.OutcomeClean,
		},
		{
			name: "moving, one file moved",
			build: func(e *env) store.Session {
				s := e.reporting()
				path, err := report.Write(e.outbox, report.SessionBase(reportName(s), s.LoginID), buildReport(s))
				if err != nil {
					t.Fatal(err)
				}
				dest := report.ArchiveDir(e.archive, s.Times.Reported.Local(), reportName(s), s.LoginID)
				if _, err := report.MoveFiles([]report.MoveItem{{Src: s.Files[0].Path, Size: s.Files[0].Size, SHA256: s.Files[0].SHA256}}, dest); err != nil {
					t.Fatal(err)
				}
				return e.set(s, func(x *store.Session) { x.State, x.ReportPath, x.ArchiveDir = store.StateMoving, path, dest })
			},
			wantOutcome: report.OutcomeClean,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.opts.FraudEnabled = true
			seeded := tt.build(e)
			p := e.pipeline()
			if err := e.runOnce(p); err != nil {
				t.Fatalf("Run: %v", err)
			}
			s, err := e.st.Get(seeded.ID)
			if err != nil || s.State != store.StateDone {
				t.Fatalf("session state %q (%v), want done", s.State, err)
			}
			reps := e.reports()
			if len(reps) != 1 {
				t.Fatalf("%d reports in the outbox, want 1", len(reps))
			}
			r := reps["resume"]
			if r.Outcome != tt.wantOutcome {
				t.Errorf("outcome %q, want %q (error %+v)", r.Outcome, tt.wantOutcome, r.Error)
			}
			if r.SessionID != seeded.ID {
				t.Errorf("report session %q, want %q", r.SessionID, seeded.ID)
			}
			if tt.wantOutcome != report.OutcomeFailed {
				got := testutil.ListFiles(t, e.archive)
				if len(got) != 3 {
					t.Errorf("archive holds %v, want both files and the report", got)
				}
				for id, files := range e.up.completed() {
					if len(files) != 2 {
						t.Errorf("completed aggregation %s holds %v, want each file once", id, files)
					}
				}
			}
			if left := testutil.ListFiles(t, e.inbox); len(left) != 0 {
				t.Errorf("inbox still holds %v", left)
			}
			if tt.check != nil {
				tt.check(t, e, r, seeded)
			}
		})
	}
}

func TestResumeDoneDoesNothing(t *testing.T) {
	e := newEnv(t)
	s := e.reporting()
	s = e.set(s, func(x *store.Session) { x.State = store.StateMoving })
	e.set(s, func(x *store.Session) { x.State = store.StateDone })
	if err := e.runOnce(e.pipeline()); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ListFiles(t, e.outbox); len(got) != 0 {
		t.Errorf("a done session wrote %v", got)
	}
	if _, err := os.Stat(filepath.Join(e.inbox, "resume", "a.pdf")); err != nil {
		t.Errorf("a done session touched its (recorded) files: %v", err)
	}
}

// times.reported is when the report is written, not when the outcome was
// decided: an outbox missing for an hour shows in it. Once persisted it is
// kept, so a rewrite after a crash writes the same time and archive date.
func TestReportedIsWhenWritten(t *testing.T) {
	e := newEnv(t)
	if err := os.Remove(e.outbox); err != nil {
		t.Fatal(err)
	}
	b := e.batch("late", map[string][]byte{"a.pdf": pdfData})
	p, clk, quiet := runFake(t, e, []watcher.Batch{b})
	eventually(t, "polling", func() bool { return p.Snapshot().Counts[store.StatePolling] == 1 })
	quiet()
	clk.Advance(30 * time.Second) // the poll: clean; the outbox is missing
	eventually(t, "the outbox error", func() bool { return strings.Contains(p.Snapshot().LastError.Message, "outbox") })
	quiet()
	un, err := e.st.Unfinished()
	if err != nil || len(un) != 1 {
		t.Fatalf("unfinished %v (%v), want the one session", un, err)
	}
	if !un[0].Times.Reported.IsZero() {
		t.Errorf("reported %v recorded before any report was written", un[0].Times.Reported)
	}
	if err := os.Mkdir(e.outbox, 0o755); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	want := clk.Now()
	eventually(t, "the session done", func() bool { return p.Snapshot().Unfinished == 0 })
	r := e.reports()["late"]
	if r.Times.Reported == nil || !r.Times.Reported.Equal(want) {
		t.Errorf("times.reported %v, want %v (when the report was written; completed %v)", r.Times.Reported, want, r.Times.Completed)
	}
}

// A session resumed in reporting keeps the persisted reported time (the
// report of a crashed write says the same); one without it gets the time of
// the write, persisted.
func TestReportedPersistedBeforeWrite(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		reported time.Time // persisted before the restart
		want     time.Time // in the report and the store after
	}{
		{"persisted kept", t0, t0},
		{"missing set to now", time.Time{}, t0.Add(48 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.opts.Clock = clock.NewFake(t0.Add(48 * time.Hour))
			s := e.set(e.reporting(), func(x *store.Session) { x.Times.Reported = tt.reported })
			if err := e.runOnce(e.pipeline()); err != nil {
				t.Fatal(err)
			}
			r := e.reports()["resume"]
			if r.Times.Reported == nil || !r.Times.Reported.Equal(tt.want) {
				t.Errorf("times.reported %v, want %v", r.Times.Reported, tt.want)
			}
			got, err := e.st.Get(s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Times.Reported.Equal(tt.want) {
				t.Errorf("stored reported %v, want %v", got.Times.Reported, tt.want)
			}
			day := tt.want.Local().Format("2006-01-02")
			if _, err := os.Stat(filepath.Join(e.archive, day)); err != nil {
				t.Errorf("archive date folder %s: %v", day, err)
			}
		})
	}
}
