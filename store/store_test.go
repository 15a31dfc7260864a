package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func openTest(t *testing.T, path string) *Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "state.db")
	}
	st, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func reopen(t *testing.T, st *Store) *Store {
	t.Helper()
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return openTest(t, st.Path())
}

func newSession(dir string, names ...string) Session {
	s := Session{Inbox: dir, Folder: "a", Dir: filepath.Join(dir, "a"), Times: Times{FirstSeen: t0}}
	for _, n := range names {
		s.Files = append(s.Files, File{Path: filepath.Join(dir, "a", n), Name: n, Size: 10, ModTime: t0})
	}
	return s
}

func mustCreate(t *testing.T, st *Store, s Session) Session {
	t.Helper()
	got, err := st.Create(s)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return got
}

func TestCreateAndTaken(t *testing.T) {
	st := openTest(t, "")
	s := newSession("/in", "x.pdf", "y.pdf")
	s.Marker = "/in/a/READY"
	got := mustCreate(t, st, s)
	if got.ID == "" || got.State != StateTaken {
		t.Fatalf("Create = id %q state %q, want an id and taken", got.ID, got.State)
	}
	for _, p := range []string{"/in/a/x.pdf", "/in/a/y.pdf", "/in/a/READY"} {
		if ok, err := st.IsTaken(p); err != nil || !ok {
			t.Errorf("IsTaken(%s) = %v, %v, want true", p, ok, err)
		}
	}
	if ok, _ := st.IsTaken("/in/a/z.pdf"); ok {
		t.Errorf("IsTaken(z.pdf) = true, want false")
	}
	_, err := st.Create(newSession("/in", "y.pdf"))
	if !errors.Is(err, ErrTaken) {
		t.Errorf("Create with a taken path: err = %v, want ErrTaken", err)
	}
}

// walk moves a session through every state, reopening the database after
// each step and checking the step survived.
func TestEveryTransitionPersisted(t *testing.T) {
	st := openTest(t, "")
	s := mustCreate(t, st, newSession("/in", "x.pdf", "y.pdf"))
	steps := []struct {
		name string
		fn   func(*Session)
		want func(Session) error
	}{
		{"uploading", func(s *Session) { s.State = StateUploading }, nil},
		{"sending", func(s *Session) { s.Files[0].State = FileSending }, nil},
		{"sent", func(s *Session) {
			s.Files[0].State, s.Files[0].SHA256, s.AggregationID = FileSent, "abc", "agg-1"
		}, func(s Session) error {
			if s.Files[0].SHA256 != "abc" || s.AggregationID != "agg-1" {
				return fmt.Errorf("sha %q agg %q", s.Files[0].SHA256, s.AggregationID)
			}
			return nil
		}},
		{"rejected file", func(s *Session) { s.Files[1].State, s.Files[1].Reason = FileRejected, "empty" }, nil},
		{"completing", func(s *Session) { s.State = StateCompleting }, nil},
		{"polling", func(s *Session) { s.State, s.LoginID, s.NextPollAt = StatePolling, "login-1", t0.Add(time.Minute) }, nil},
		{"next poll", func(s *Session) { s.NextPollAt = t0.Add(2 * time.Minute) }, func(s Session) error {
			if !s.NextPollAt.Equal(t0.Add(2 * time.Minute)) {
				return fmt.Errorf("next_poll_at %v", s.NextPollAt)
			}
			return nil
		}},
		{"reporting", func(s *Session) {
			s.State, s.Outcome = StateReporting, "clean"
			s.Fraud = &Fraud{Documents: []json.RawMessage{json.RawMessage(`{"Status":"COMPLETED"}`)}}
		}, nil},
		{"moving", func(s *Session) { s.State, s.ReportPath = StateMoving, "/out/a__login-1.json" }, nil},
		{"moving again", func(s *Session) { s.Files[0].Size = 11 }, nil},
		{"done", func(s *Session) { s.State, s.Times.Done = StateDone, t0.Add(time.Hour) }, nil},
	}
	for _, step := range steps {
		want, err := st.Update(s.ID, func(x *Session) error { step.fn(x); return nil })
		if err != nil {
			t.Fatalf("step %s: %v", step.name, err)
		}
		st = reopen(t, st)
		got, err := st.Get(s.ID)
		if err != nil {
			t.Fatalf("step %s: Get after reopen: %v", step.name, err)
		}
		gotJSON, _ := json.Marshal(got)
		wantJSON, _ := json.Marshal(want)
		if !bytes.Equal(gotJSON, wantJSON) {
			t.Errorf("step %s: after reopen got %s, want %s", step.name, gotJSON, wantJSON)
		}
		if step.want != nil {
			if err := step.want(got); err != nil {
				t.Errorf("step %s: %v", step.name, err)
			}
		}
	}
	if ok, _ := st.IsTaken("/in/a/x.pdf"); ok {
		t.Errorf("IsTaken after done = true, want the path released")
	}
	if un, _ := st.Unfinished(); len(un) != 0 {
		t.Errorf("Unfinished after done = %d sessions, want 0", len(un))
	}
}

func TestIllegalTransitionsRefused(t *testing.T) {
	tests := []struct {
		name  string
		setup []State // states walked first
		fn    func(*Session)
	}{
		{"taken to completing", nil, func(s *Session) { s.State = StateCompleting }},
		{"taken to done", nil, func(s *Session) { s.State = StateDone }},
		{"uploading to polling", []State{StateUploading}, func(s *Session) { s.State = StatePolling }},
		{"completing twice", []State{StateUploading, StateCompleting}, func(s *Session) { s.LoginID = "x" }},
		{"completing back to uploading", []State{StateUploading, StateCompleting}, func(s *Session) { s.State = StateUploading }},
		{"reporting back to polling", []State{StateReporting}, func(s *Session) { s.State = StatePolling }},
		{"done to anything", []State{StateReporting, StateMoving, StateDone}, func(s *Session) { s.State = StateMoving }},
		{"done in place", []State{StateReporting, StateMoving, StateDone}, func(s *Session) { s.Outcome = "x" }},
		{"unknown state", nil, func(s *Session) { s.State = "flying" }},
		{"pending to sent", []State{StateUploading}, func(s *Session) { s.Files[0].State = FileSent }},
		{"unknown file state", nil, func(s *Session) { s.Files[0].State = "lost" }},
		{"file added", nil, func(s *Session) { s.Files = append(s.Files, File{Path: "/z", State: FilePending}) }},
		{"file path changed", nil, func(s *Session) { s.Files[0].Path = "/elsewhere" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openTest(t, "")
			s := mustCreate(t, st, newSession("/in", "x.pdf"))
			for _, to := range tt.setup {
				if _, err := st.Update(s.ID, func(x *Session) error { x.State = to; return nil }); err != nil {
					t.Fatalf("setup to %s: %v", to, err)
				}
			}
			before, _ := st.Get(s.ID)
			_, err := st.Update(s.ID, func(x *Session) error { tt.fn(x); return nil })
			if !errors.Is(err, ErrIllegalTransition) {
				t.Fatalf("Update = %v, want ErrIllegalTransition", err)
			}
			after, _ := st.Get(s.ID)
			b1, _ := json.Marshal(before)
			b2, _ := json.Marshal(after)
			if !bytes.Equal(b1, b2) {
				t.Errorf("refused update changed the record: %s → %s", b1, b2)
			}
		})
	}
}

func TestFileRejectedIsFinal(t *testing.T) {
	for _, to := range []FileState{FilePending, FileSending, FileSent} {
		if CanTransitionFile(FileRejected, to) {
			t.Errorf("CanTransitionFile(rejected, %s) = true, want false", to)
		}
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	openTest(t, path)
	_, err := Open(path, Options{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	want := path + " is held by another flinkdrop (stop it, or give this one another state_dir)"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("ErrLocked message %q does not contain %q", err, want)
	}
	if n := strings.Count(err.Error(), path); n != 1 {
		t.Errorf("ErrLocked message %q names the path %d times, want once", err, n)
	}
}

func TestOpenCorruptLeavesFileUntouched(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"text", bytes.Repeat([]byte("this is not a database\n"), 1000)},
		{"short", []byte("garbage")},
		{"zeros", make([]byte, 32<<10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			st, err := Open(path, Options{Timeout: 100 * time.Millisecond})
			if err == nil {
				_ = st.Close()
				t.Fatalf("Open(%s) = nil error, want ErrCorrupt", tt.name)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("Open(%s) = %v, want ErrCorrupt", tt.name, err)
			}
			for _, want := range []string{path, "move the file aside"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q does not contain %q", err, want)
				}
			}
			got, _ := os.ReadFile(path)
			if !bytes.Equal(got, tt.data) {
				t.Errorf("Open changed the corrupt file (%d bytes → %d)", len(tt.data), len(got))
			}
		})
	}
}

func TestMigrateFromVersion0(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	// A database from before schema versions: sessions only, no meta, no index.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := newSession("/in", "x.pdf")
	old.ID, old.State = "old-1", StateUploading
	old.Files[0].State = FilePending
	data, _ := json.Marshal(old)
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketSessions)
		if err != nil {
			return err
		}
		return b.Put([]byte(old.ID), data)
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	st := openTest(t, path)
	if v, err := st.Version(); err != nil || v != SchemaVersion {
		t.Errorf("Version() = %d, %v, want %d", v, err, SchemaVersion)
	}
	if ok, _ := st.IsTaken("/in/a/x.pdf"); !ok {
		t.Errorf("IsTaken(x.pdf) after migration = false, want true (index rebuilt)")
	}
	got, err := st.Get("old-1")
	if err != nil || got.State != StateUploading {
		t.Errorf("Get(old-1) = %v, %v, want the session in uploading", got.State, err)
	}
}

func TestMigrationStepsAndNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st := openTest(t, path)
	s := mustCreate(t, st, newSession("/in", "x.pdf"))
	_ = st.Close()

	ran := 0
	v2 := func(tx *bolt.Tx, _ bool) error {
		ran++
		_, err := tx.CreateBucket([]byte("v2-extra"))
		return err
	}
	next := SchemaVersion + 1
	st2, err := open(path, Options{}, false, append(migrations(), v2))
	if err != nil {
		t.Fatalf("open with a v%d step: %v", next, err)
	}
	if v, _ := st2.Version(); v != next || ran != 1 {
		t.Errorf("after migration: version %d, step ran %d times; want %d and 1", v, ran, next)
	}
	if _, err := st2.Get(s.ID); err != nil {
		t.Errorf("session lost in migration: %v", err)
	}
	_ = st2.Close()

	_, err = Open(path, Options{})
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open of a version-%d file = %v, want ErrNewerSchema", next, err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("version %d", next)) {
		t.Errorf("message %q does not name the version", err)
	}
	if _, err := OpenReadOnly(path, time.Second); !errors.Is(err, ErrNewerSchema) {
		t.Errorf("OpenReadOnly of a version-%d file = %v, want ErrNewerSchema", next, err)
	}
}

func TestPrune(t *testing.T) {
	st := openTest(t, "")
	finish := func(name string, at time.Time) string {
		s := mustCreate(t, st, newSession("/in/"+name, "x.pdf"))
		for _, to := range []State{StateReporting, StateMoving, StateDone} {
			_, err := st.Update(s.ID, func(x *Session) error { x.State, x.Times.Done = to, at; return nil })
			if err != nil {
				t.Fatal(err)
			}
		}
		return s.ID
	}
	oldID := finish("old", t0)
	newID := finish("new", t0.Add(700*time.Hour))
	running := mustCreate(t, st, newSession("/in/run", "x.pdf"))

	n, err := st.Prune(t0.Add(721 * time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v, want 1", n, err)
	}
	for id, want := range map[string]bool{oldID: false, newID: true, running.ID: true} {
		_, err := st.Get(id)
		if got := err == nil; got != want {
			t.Errorf("after Prune, Get(%s) present = %v, want %v", id, got, want)
		}
	}
}

func TestSummaryReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st := openTest(t, path)
	a := newSession("/in", "x.pdf")
	a.Times.FirstSeen = t0.Add(time.Hour)
	mustCreate(t, st, a)
	b := newSession("/in2", "y.pdf")
	b.Times.FirstSeen = t0
	bs := mustCreate(t, st, b)
	if _, err := st.Update(bs.ID, func(x *Session) error { x.State = StateUploading; return nil }); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()

	ro, err := OpenReadOnly(path, time.Second)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	defer ro.Close()
	sum, err := ro.Summary()
	if err != nil {
		t.Fatalf("Summary: %v", err)
	}
	if sum.Counts[StateTaken] != 1 || sum.Counts[StateUploading] != 1 {
		t.Errorf("Counts = %v, want taken 1 uploading 1", sum.Counts)
	}
	if !sum.OldestPending.Equal(t0) {
		t.Errorf("OldestPending = %v, want %v", sum.OldestPending, t0)
	}
	if len(sum.Active) != 2 {
		t.Errorf("Active = %d sessions, want 2", len(sum.Active))
	}
	if _, err := ro.Update(bs.ID, func(x *Session) error { return nil }); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Update on read-only = %v, want ErrReadOnly", err)
	}
	if _, err := OpenReadOnly(filepath.Join(t.TempDir(), "missing.db"), time.Second); err == nil {
		t.Errorf("OpenReadOnly(missing) = nil error, want one")
	}
}

// A crash inside the transaction (here: the hook panics where a crash test
// would kill the process) loses exactly that transaction.
func TestHookInsideTransaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	var points []string
	st, err := Open(path, Options{Hook: func(p string) {
		points = append(points, p)
		if p == "store-tx:"+string(StateUploading) {
			panic("crash")
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := mustCreate(t, st, newSession("/in", "x.pdf"))
	func() {
		defer func() { _ = recover() }()
		_, _ = st.Update(s.ID, func(x *Session) error { x.State = StateUploading; return nil })
	}()
	got, err := st.Get(s.ID)
	if err != nil || got.State != StateTaken {
		t.Errorf("after a crash inside the tx: state %q, %v; want taken", got.State, err)
	}
	want := []string{"store-tx:taken", "store-tx:uploading"}
	if fmt.Sprint(points) != fmt.Sprint(want) {
		t.Errorf("hook points = %v, want %v", points, want)
	}
}
