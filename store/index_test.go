package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ids returns the sessions' ids in order.
func ids(sessions []Session) []string {
	out := []string{}
	for _, s := range sessions {
		out = append(out, s.ID)
	}
	return out
}

// finishSession walks a taken session to done at the given time.
func finishSession(t *testing.T, st *Store, id string, at time.Time) {
	t.Helper()
	for _, to := range []State{StateReporting, StateMoving, StateDone} {
		_, err := st.Update(id, func(x *Session) error {
			x.State, x.Outcome, x.Times.Done = to, "clean", at
			return nil
		})
		if err != nil {
			t.Fatalf("finish %s to %s: %v", id, to, err)
		}
	}
}

// checkIndex compares Unfinished, UnfinishedFirst and Counts (which read the
// index) with Summary (which walks every record).
func checkIndex(t *testing.T, st *Store, wantUnfinished []string) {
	t.Helper()
	un, err := st.Unfinished()
	if err != nil {
		t.Fatalf("Unfinished: %v", err)
	}
	if got := ids(un); !reflect.DeepEqual(got, wantUnfinished) {
		t.Errorf("Unfinished = %v, want %v", got, wantUnfinished)
	}
	sum, err := st.Summary()
	if err != nil {
		t.Fatalf("Summary: %v", err)
	}
	if got := ids(sum.Active); !reflect.DeepEqual(got, wantUnfinished) {
		t.Errorf("Summary().Active = %v, want %v", got, wantUnfinished)
	}
	counts, err := st.Counts()
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	if !reflect.DeepEqual(counts, sum.Counts) {
		t.Errorf("Counts() = %v, want Summary's %v", counts, sum.Counts)
	}
	for _, s := range un {
		if s.State == StateDone {
			t.Errorf("Unfinished returned %s in state done", s.ID)
		}
		if counts[s.State] == 0 {
			t.Errorf("Counts() = %v has no %s for session %s", counts, s.State, s.ID)
		}
	}
}

// The index follows every change: create, state changes in place and
// across states, done, prune, and a reopen.
func TestUnfinishedIndexFollowsChanges(t *testing.T) {
	st := openTest(t, "")
	mk := func(name string, seen time.Time) string {
		s := newSession("/in/"+name, "x.pdf")
		s.ID = NewID(seen)
		s.Times.FirstSeen = seen
		return mustCreate(t, st, s).ID
	}
	a := mk("a", t0)
	b := mk("b", t0.Add(time.Minute))
	c := mk("c", t0.Add(2*time.Minute))
	checkIndex(t, st, []string{a, b, c})

	if _, err := st.Update(b, func(x *Session) error { x.State = StateUploading; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Update(b, func(x *Session) error { x.Files[0].State = FileSending; return nil }); err != nil {
		t.Fatal(err)
	}
	checkIndex(t, st, []string{a, b, c})
	if got, _ := st.Counts(); got[StateUploading] != 1 || got[StateTaken] != 2 {
		t.Errorf("Counts() = %v, want uploading 1 taken 2", got)
	}

	finishSession(t, st, a, t0)
	checkIndex(t, st, []string{b, c})
	finishSession(t, st, c, t0.Add(700*time.Hour))
	checkIndex(t, st, []string{b})

	// A refused change leaves the index alone.
	if _, err := st.Update(b, func(x *Session) error { x.State = StateDone; return nil }); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("uploading to done = %v, want ErrIllegalTransition", err)
	}
	checkIndex(t, st, []string{b})

	if n, err := st.Prune(t0.Add(721 * time.Hour)); err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v, want 1", n, err)
	}
	checkIndex(t, st, []string{b})
	if got, _ := st.Counts(); got[StateDone] != 1 {
		t.Errorf("Counts() after prune = %v, want done 1", got)
	}
	st = reopen(t, st)
	checkIndex(t, st, []string{b})
}

func TestUnfinishedFirst(t *testing.T) {
	st := openTest(t, "")
	var want []string
	for i := range 5 {
		s := newSession(fmt.Sprintf("/in/%d", i), "x.pdf")
		s.ID = NewID(t0.Add(time.Duration(i) * time.Second))
		want = append(want, mustCreate(t, st, s).ID)
	}
	finishSession(t, st, want[1], t0)
	want = append(want[:1], want[2:]...)
	tests := []struct {
		n    int
		want []string
	}{
		{0, want},
		{-1, want},
		{2, want[:2]},
		{4, want},
		{9, want},
	}
	for _, tt := range tests {
		got, total, err := st.UnfinishedFirst(tt.n)
		if err != nil {
			t.Fatalf("UnfinishedFirst(%d): %v", tt.n, err)
		}
		if !reflect.DeepEqual(ids(got), tt.want) || total != 4 {
			t.Errorf("UnfinishedFirst(%d) = %v, %d; want %v, 4", tt.n, ids(got), total, tt.want)
		}
	}
}

// Unfinished and Counts never decode a finished record: a damaged done
// record does not stop them, while Summary (which walks) reports it.
func TestUnfinishedReadsOnlyTheIndex(t *testing.T) {
	st := openTest(t, "")
	done := mustCreate(t, st, newSession("/in/done", "x.pdf"))
	finishSession(t, st, done.ID, t0)
	open := mustCreate(t, st, newSession("/in/open", "x.pdf"))
	err := st.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).Put([]byte(done.ID), []byte("{not json"))
	})
	if err != nil {
		t.Fatal(err)
	}
	un, err := st.Unfinished()
	if err != nil || !reflect.DeepEqual(ids(un), []string{open.ID}) {
		t.Errorf("Unfinished = %v, %v; want [%s] and no error", ids(un), err, open.ID)
	}
	counts, err := st.Counts()
	if want := map[State]int{StateTaken: 1, StateDone: 1}; err != nil || !reflect.DeepEqual(counts, want) {
		t.Errorf("Counts = %v, %v; want %v", counts, err, want)
	}
	if _, err := st.Summary(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Summary over a damaged record = %v, want ErrCorrupt (the test would prove nothing)", err)
	}
}

func TestUnfinishedIndexNamesMissingRecord(t *testing.T) {
	st := openTest(t, "")
	err := st.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUnfinished).Put([]byte("ghost"), []byte(StateTaken))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Unfinished(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Unfinished with an index entry and no record = %v, want ErrCorrupt", err)
	}
}

// buildV1 writes a version 1 database (the real version 1 migration, then
// records put the way version 1 wrote them: no unfinished index).
func buildV1(t *testing.T, path string, sessions []Session) {
	t.Helper()
	st, err := open(path, Options{}, false, migrations()[:1])
	if err != nil {
		t.Fatalf("build v1: %v", err)
	}
	err = st.db.Update(func(tx *bolt.Tx) error {
		for _, s := range sessions {
			data, err := json.Marshal(&s)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketSessions).Put([]byte(s.ID), data); err != nil {
				return err
			}
			if s.State == StateDone {
				continue
			}
			for _, p := range s.Paths() {
				if err := tx.Bucket(bucketTaken).Put([]byte(p), []byte(s.ID)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("build v1: %v", err)
	}
	if v, _ := st.Version(); v != 1 {
		t.Fatalf("built version %d, want 1", v)
	}
	_ = st.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketUnfinished) != nil {
			t.Errorf("the v1 file has an unfinished index")
		}
		return nil
	})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

func v1Sessions() (all []Session, unfinished []string) {
	for i, state := range []State{StateDone, StatePolling, StateDone, StateTaken, StateMoving, StateDone} {
		s := newSession(fmt.Sprintf("/in/%d", i), "x.pdf")
		s.ID = fmt.Sprintf("20260301T0900%02d.000Z-0000000%d", i, i)
		s.State, s.Files[0].State = state, FilePending
		s.Times.FirstSeen = t0.Add(time.Duration(i) * time.Minute)
		if state == StateDone {
			s.Outcome, s.Times.Done = "clean", t0.Add(time.Hour)
		} else {
			unfinished = append(unfinished, s.ID)
		}
		all = append(all, s)
	}
	return all, unfinished
}

func TestMigrateFromVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	all, wantUnfinished := v1Sessions()
	buildV1(t, path, all)

	st := openTest(t, path)
	if v, err := st.Version(); err != nil || v != SchemaVersion || SchemaVersion != 3 {
		t.Errorf("Version() = %d, %v; want %d (= 3)", v, err, SchemaVersion)
	}
	checkIndex(t, st, wantUnfinished)
	counts, _ := st.Counts()
	want := map[State]int{StateDone: 3, StatePolling: 1, StateTaken: 1, StateMoving: 1}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("Counts() after migration = %v, want %v", counts, want)
	}
	// The migrated index keeps working.
	finishSession(t, st, wantUnfinished[1], t0)
	checkIndex(t, st, []string{wantUnfinished[0], wantUnfinished[2]})
	if ok, _ := st.IsTaken(all[3].Files[0].Path); ok {
		t.Errorf("IsTaken after done = true, want the taken index migrated and released")
	}
	// The done-by-time index was built from the three v1 done sessions
	// (done at t0+1h); the one finished above (at t0) is in it too.
	if n, err := st.Prune(t0.Add(time.Hour).Add(DefaultRetention)); err != nil || n != 1 {
		t.Errorf("Prune just before the v1 sessions' cutoff = %d, %v; want 1 (the one finished at t0)", n, err)
	}
	if n, err := st.Prune(t0.Add(time.Hour).Add(DefaultRetention + time.Nanosecond)); err != nil || n != 3 {
		t.Errorf("Prune after the v1 sessions' cutoff = %d, %v; want 3", n, err)
	}
	checkIndex(t, st, []string{wantUnfinished[0], wantUnfinished[2]})
}

// flinkdrop status reads a version 1 file (daemon stopped, not yet
// upgraded) without migrating it.
func TestReadOnlyVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	all, wantUnfinished := v1Sessions()
	buildV1(t, path, all)

	ro, err := OpenReadOnly(path, time.Second)
	if err != nil {
		t.Fatalf("OpenReadOnly of a v1 file: %v", err)
	}
	defer ro.Close()
	checkIndex(t, ro, wantUnfinished)
	got, total, err := ro.UnfinishedFirst(2)
	if err != nil || total != 3 || !reflect.DeepEqual(ids(got), wantUnfinished[:2]) {
		t.Errorf("UnfinishedFirst(2) = %v, %d, %v; want %v, 3", ids(got), total, err, wantUnfinished[:2])
	}
	if v, _ := ro.Version(); v != 1 {
		t.Errorf("read-only open migrated the file to version %d", v)
	}
}

// Prune deletes exactly the sessions that finished before now - retention,
// by their done time (or reported time when done has none).
func TestPruneByDoneTime(t *testing.T) {
	now := t0.Add(1000 * time.Hour)
	cutoff := now.Add(-DefaultRetention)
	tests := []struct {
		name           string
		done, reported time.Time
		pruned         bool
	}{
		{"long ago", t0, t0, true},
		{"just before the cutoff", cutoff.Add(-time.Nanosecond), time.Time{}, true},
		{"at the cutoff", cutoff, time.Time{}, false},
		{"after the cutoff", cutoff.Add(time.Hour), t0, false},
		{"no done time, reported before", time.Time{}, cutoff.Add(-time.Minute), true},
		{"no done time, reported after", time.Time{}, cutoff.Add(time.Minute), false},
		{"no time at all", time.Time{}, time.Time{}, true},
	}
	st := openTest(t, "")
	byName := map[string]string{}
	for i, tt := range tests {
		s := mustCreate(t, st, newSession(fmt.Sprintf("/in/%d", i), "x.pdf"))
		for _, to := range []State{StateReporting, StateMoving, StateDone} {
			_, err := st.Update(s.ID, func(x *Session) error {
				x.State, x.Times.Done, x.Times.Reported = to, tt.done, tt.reported
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		byName[tt.name] = s.ID
	}
	running := mustCreate(t, st, newSession("/in/running", "x.pdf"))
	wantPruned := 0
	for _, tt := range tests {
		if tt.pruned {
			wantPruned++
		}
	}
	n, err := st.Prune(now)
	if err != nil || n != wantPruned {
		t.Fatalf("Prune = %d, %v; want %d", n, err, wantPruned)
	}
	for _, tt := range tests {
		_, err := st.Get(byName[tt.name])
		if got := errors.Is(err, ErrNotFound); got != tt.pruned {
			t.Errorf("%s: pruned = %v (Get: %v), want %v", tt.name, got, err, tt.pruned)
		}
	}
	if n, err := st.Prune(now); err != nil || n != 0 {
		t.Errorf("second Prune = %d, %v; want 0", n, err)
	}
	checkIndex(t, st, []string{running.ID})
}

// Prune reads the done-by-time index, not the sessions it keeps: a damaged
// record that is kept does not stop it.
func TestPruneReadsOnlyTheDoneIndex(t *testing.T) {
	st := openTest(t, "")
	old := mustCreate(t, st, newSession("/in/old", "x.pdf"))
	finishSession(t, st, old.ID, t0)
	kept := mustCreate(t, st, newSession("/in/kept", "x.pdf"))
	finishSession(t, st, kept.ID, t0.Add(500*time.Hour))
	err := st.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).Put([]byte(kept.ID), []byte("{not json"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := st.Prune(t0.Add(721 * time.Hour)); err != nil || n != 1 {
		t.Errorf("Prune over a damaged kept record = %d, %v; want 1 and no error", n, err)
	}
	if _, err := st.Get(old.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(old) after Prune = %v, want ErrNotFound", err)
	}
}
