package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/clock"
	"github.com/flinkdrop/flinkdrop/store"
	"github.com/flinkdrop/flinkdrop/uploader"
)

// blockingUploader never answers: a pipeline over it can load but sends
// nothing.
type blockingUploader struct{}

func (blockingUploader) Upload(ctx context.Context, _ uploader.UploadRequest) (uploader.UploadResult, error) {
	<-ctx.Done()
	return uploader.UploadResult{}, ctx.Err()
}

func (blockingUploader) Complete(ctx context.Context, _ string) (uploader.CompleteResult, error) {
	<-ctx.Done()
	return uploader.CompleteResult{}, ctx.Err()
}

func (blockingUploader) FraudAnalysis(ctx context.Context, _ string) (uploader.FraudResult, error) {
	<-ctx.Done()
	return uploader.FraudResult{}, ctx.Err()
}

// Sizes of the start-up benchmark's database.
const (
	benchDone       = 10000
	benchUnfinished = 1000
)

// benchBase is when the benchmark's sessions were first seen.
func benchBase() time.Time { return time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC) }

// benchSession is a session of three files as the pipeline stores it.
func benchSession(i int) store.Session {
	seen := benchBase().Add(time.Duration(i) * time.Second)
	dir := filepath.Join("inbox", fmt.Sprintf("client-%05d", i))
	s := store.Session{
		ID: store.NewID(seen), Inbox: "inbox", Folder: fmt.Sprintf("client-%05d", i), Dir: dir,
		Marker: filepath.Join(dir, "READY"), Tag: "branch-12", ClientName: "Example Client Inc.",
		Times: store.Times{FirstSeen: seen},
	}
	for _, n := range []string{"2026-01-statement.pdf", "2026-02-statement.pdf", "2026-03-statement.pdf"} {
		s.Files = append(s.Files, store.File{Path: filepath.Join(dir, n), Name: n, Size: 412345, ModTime: seen})
	}
	return s
}

// benchFraudDoc is one analysed document, about the size Flinks returns.
const benchFraudDoc = `{"Status":"COMPLETED","DocumentName":"2026-01-statement.pdf","FullAnalysis":[{"DocumentType":"BANK_STATEMENT","Institution":"Example Bank","AccountHolder":"Example Client Inc.","Period":{"From":"2026-01-01","To":"2026-01-31"},"FraudSignals":[]}]}`

// buildResumeDB writes benchDone finished sessions (reported, files
// archived) and benchUnfinished unfinished ones in taken, uploading,
// polling and reporting, through the store as the pipeline writes them.
func buildResumeDB(b *testing.B, path string) {
	b.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	update := func(id string, fn func(*store.Session)) {
		if _, err := st.Update(id, func(s *store.Session) error { fn(s); return nil }); err != nil {
			b.Fatal(err)
		}
	}
	for i := range benchDone + benchUnfinished {
		s, err := st.Create(benchSession(i))
		if err != nil {
			b.Fatal(err)
		}
		at := s.Times.FirstSeen.Add(time.Minute)
		if i >= benchDone {
			switch i % 4 {
			case 0: // taken
			case 1:
				update(s.ID, func(s *store.Session) {
					s.State, s.AggregationID, s.Attempt = store.StateUploading, "agg-"+s.ID, 1
					s.Files[0].State, s.Files[0].SHA256 = store.FileSending, fmt.Sprintf("%064x", i)
				})
			case 2:
				update(s.ID, func(s *store.Session) {
					s.State, s.AggregationID, s.LoginID = store.StateReporting, "agg-"+s.ID, "login-"+s.ID
					s.NextPollAt = at.Add(48 * time.Hour)
				})
			case 3:
				update(s.ID, func(s *store.Session) { s.State = store.StateUploading })
				update(s.ID, func(s *store.Session) { s.State = store.StateCompleting })
				update(s.ID, func(s *store.Session) {
					s.State, s.LoginID, s.NextPollAt = store.StatePolling, "login-"+s.ID, at.Add(48*time.Hour)
				})
			}
			continue
		}
		update(s.ID, func(s *store.Session) {
			s.State, s.Outcome, s.Attempt = store.StateReporting, "clean", 1
			s.AggregationID, s.LoginID, s.RequestID = "agg-"+s.ID, "login-"+s.ID, "req-"+s.ID
			s.Times.Uploaded, s.Times.Completed, s.Times.Analysed = at, at, at
			s.Fraud = &store.Fraud{Documents: []json.RawMessage{json.RawMessage(benchFraudDoc), json.RawMessage(benchFraudDoc), json.RawMessage(benchFraudDoc)}}
			for j := range s.Files {
				s.Files[j].State = store.FileRejected // any final file state: the size is what counts
				s.Files[j].SHA256 = fmt.Sprintf("%064x", i*3+j)
			}
		})
		update(s.ID, func(s *store.Session) {
			s.State, s.Times.Reported = store.StateMoving, at
			s.ReportPath = filepath.Join("outbox", s.Folder+"__login-"+s.ID+".json")
			s.ArchiveDir = filepath.Join("archive", s.Folder)
		})
		update(s.ID, func(s *store.Session) { s.State, s.Times.Done = store.StateDone, at })
	}
}

// BenchmarkStartup measures a daemon start over a database of 10,000
// finished and 1,000 unfinished sessions: Open, New, and what Run does
// before its workers start (load the unfinished sessions into the queue and
// the poll schedule, and prune). Workers are not started, so the database
// is the same at every iteration. It reports the heap in use after load
// (heap-MB, with the pipeline and store alive; heap-delta-MB is the growth
// over the heap before Open) and the database's size (db-MB).
func BenchmarkStartup(b *testing.B) {
	path := filepath.Join(b.TempDir(), "state.db")
	built := time.Now()
	buildResumeDB(b, path)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d finished + %d unfinished sessions in %v: %.1f MB", benchDone, benchUnfinished, time.Since(built).Round(time.Millisecond), float64(fi.Size())/(1<<20))
	opts := Options{
		Inboxes: []InboxConfig{{Path: "inbox", Outbox: "outbox", Archive: "archive", Failed: "failed"}},
		Log:     zerolog.Nop(),
		// Within retention of every session: prune deletes nothing.
		Clock: clock.NewFake(benchBase().Add(72 * time.Hour)),
	}
	b.Run("open+load", func(b *testing.B) {
		b.ReportAllocs()
		var before, after runtime.MemStats
		for range b.N {
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&before)
			b.StartTimer()

			st, err := store.Open(path, store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			p, err := New(st, blockingUploader{}, opts)
			if err != nil {
				b.Fatal(err)
			}
			if err := p.load(); err != nil {
				b.Fatal(err)
			}
			p.prune()

			b.StopTimer()
			snap := p.Snapshot()
			if snap.Unfinished != benchUnfinished || snap.Counts[store.StateDone] != benchDone {
				b.Fatalf("loaded %d unfinished, %d done; want %d and %d", snap.Unfinished, snap.Counts[store.StateDone], benchUnfinished, benchDone)
			}
			if got, want := p.queue.busy()+snap.Scheduled, benchUnfinished; got != want {
				b.Fatalf("%d sessions queued or scheduled, want %d", got, want)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			runtime.KeepAlive(p)
			if err := st.Close(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(after.HeapInuse)/(1<<20), "heap-MB")
		b.ReportMetric((float64(after.HeapInuse)-float64(before.HeapInuse))/(1<<20), "heap-delta-MB")
		b.ReportMetric(float64(fi.Size())/(1<<20), "db-MB")
	})
	// What the daemon reads for every status write (every 2s): the
	// pipeline's snapshot and the store's unfinished sessions.
	b.Run("status", func(b *testing.B) {
		st, err := store.Open(path, store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = st.Close() }()
		p, err := New(st, blockingUploader{}, opts)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.load(); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			_ = p.Snapshot()
			un, err := st.Unfinished()
			if err != nil || len(un) != benchUnfinished {
				b.Fatalf("Unfinished = %d sessions, %v; want %d", len(un), err, benchUnfinished)
			}
		}
		b.StopTimer()
	})
	// The same with only the 50 oldest sessions the status file lists.
	b.Run("status-first-50", func(b *testing.B) {
		st, err := store.Open(path, store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = st.Close() }()
		b.ResetTimer()
		for range b.N {
			un, total, err := st.UnfinishedFirst(50)
			if err != nil || len(un) != 50 || total != benchUnfinished {
				b.Fatalf("UnfinishedFirst(50) = %d sessions of %d, %v; want 50 of %d", len(un), total, err, benchUnfinished)
			}
		}
		b.StopTimer()
	})
}
