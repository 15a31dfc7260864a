package watcher

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// hold marks every file of b as held by a session, as the pipeline does
// once it has persisted the batch.
func (s *takenSet) hold(b Batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range b.Files {
		s.paths[f.Path] = true
	}
}

// release forgets paths, as the store does when their session is done.
func (s *takenSet) release(paths ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range paths {
		delete(s.paths, p)
	}
}

// collect advances the clock by total in one-second steps and returns every
// batch received, with its time as an offset from start.
func (h *harness) collect(start time.Time, total time.Duration) (got []Batch, at []time.Duration) {
	h.t.Helper()
	for step := time.Duration(0); step < total; step += time.Second {
		h.clk.Advance(time.Second)
		for _, b := range h.drain() {
			got = append(got, b)
			at = append(at, h.clk.Now().Sub(start))
		}
	}
	return got, at
}

// A batch the pipeline dropped (Taken stays false) is offered again by the
// first full rescan once the grace has passed, once per grace, with the
// same files; never within the grace.
func TestDroppedBatchOfferedAgain(t *testing.T) {
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	tests := []struct {
		name     string
		inbox    Inbox
		folder   string
		marker   bool
		wantAt   []time.Duration // offsets of the batches offered again
		duration time.Duration
	}{
		{
			name:     "grace is the rescan interval",
			inbox:    Inbox{StableFor: time.Second, Settle: 2 * time.Second, RescanInterval: 10 * time.Second},
			folder:   "applicant-1",
			wantAt:   []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second},
			duration: 35 * time.Second,
		},
		{
			name:     "grace is twice stable_for plus slack",
			inbox:    Inbox{StableFor: 5 * time.Second, Settle: 30 * time.Second, RescanInterval: time.Second},
			folder:   "applicant-2",
			wantAt:   []time.Duration{15 * time.Second, 30 * time.Second},
			duration: 35 * time.Second,
		},
		{
			name:     "root file",
			inbox:    Inbox{StableFor: 5 * time.Second, RescanInterval: time.Second},
			folder:   "",
			wantAt:   []time.Duration{15 * time.Second, 30 * time.Second},
			duration: 35 * time.Second,
		},
		{
			name:     "marker closes the batch offered again",
			inbox:    Inbox{StableFor: time.Second, Settle: time.Hour, RescanInterval: 10 * time.Second, ReadyMarker: "READY"},
			folder:   "applicant-3",
			marker:   true,
			wantAt:   []time.Duration{10 * time.Second, 20 * time.Second},
			duration: 25 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			taken := &takenSet{paths: map[string]bool{}}
			h := newHarness(t, harnessOpts{
				inbox: tt.inbox,
				taken: taken,
				setup: func(h *harness) {
					dir := filepath.Join(h.root, filepath.FromSlash(tt.folder))
					n := 3
					if tt.folder == "" {
						n = 1
					}
					for i := range n {
						write(t, filepath.Join(dir, fmt.Sprintf("page-%d.pdf", i)), []byte(fmt.Sprintf("page %d", i)), old)
					}
					if tt.marker {
						write(t, filepath.Join(dir, "READY"), nil, old)
					}
				},
			})
			start := h.clk.Now()
			first := h.recv() // dropped: taken stays empty
			h.sync()          // the watcher has noted the receipt
			if tt.marker && first.Marker == "" {
				t.Fatalf("first batch has no marker, want %s", filepath.Join(first.Dir, "READY"))
			}
			got, at := h.collect(start, tt.duration)
			if !reflect.DeepEqual(at, tt.wantAt) {
				t.Fatalf("offered again at %v, want %v", at, tt.wantAt)
			}
			for i, b := range got {
				if !reflect.DeepEqual(b, first) {
					t.Errorf("batch %d offered again = %+v, want %+v", i, b, first)
				}
			}
		})
	}
}

// Files a session holds are never offered again, however long it runs; a
// folder part of whose files are held offers only the rest.
func TestHeldFilesNeverOfferedAgain(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	tests := []struct {
		name string
		hold []string // names held after the hand-over
		want []string // names offered again; nil = none
	}{
		{"all held", []string{"a.pdf", "b.pdf"}, nil},
		{"one held", []string{"a.pdf"}, []string{"b.pdf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			taken := &takenSet{paths: map[string]bool{}}
			h := newHarness(t, harnessOpts{
				inbox: Inbox{StableFor: time.Second, Settle: time.Second, RescanInterval: 2 * time.Second},
				taken: taken,
				setup: func(h *harness) {
					write(t, filepath.Join(h.root, "s", "a.pdf"), []byte("a"), old)
					write(t, filepath.Join(h.root, "s", "b.pdf"), []byte("b"), old)
				},
			})
			b := h.recv()
			h.sync()
			taken.mu.Lock()
			for _, n := range tt.hold {
				taken.paths[filepath.Join(b.Dir, n)] = true
			}
			taken.mu.Unlock()
			got, _ := h.collect(h.clk.Now(), 9*time.Second) // the grace is 7 s
			if tt.want == nil {
				if len(got) != 0 {
					t.Fatalf("offered again %d batches (%v), want none", len(got), names(got[0]))
				}
				h.advance(time.Minute, time.Second)
				h.expectNone()
				return
			}
			if len(got) != 1 || !sameStrings(names(got[0]), tt.want) {
				t.Fatalf("offered again %v, want one batch with %v", got, tt.want)
			}
		})
	}
}

// A file its finished session left in place (Taken turns false, the file is
// unchanged) is offered again at the next rescan: held meanwhile, never.
func TestFileLeftAfterSessionOfferedAgain(t *testing.T) {
	taken := &takenSet{paths: map[string]bool{}}
	h := newHarness(t, harnessOpts{
		inbox: Inbox{StableFor: time.Second, Settle: time.Second, RescanInterval: time.Second},
		taken: taken,
		setup: func(h *harness) {
			write(t, filepath.Join(h.root, "s", "changed.pdf"), []byte("c"), time.Now().Add(-time.Hour))
		},
	})
	b := h.recv()
	taken.hold(b)
	h.sync()
	h.advance(30*time.Second, time.Second)
	h.expectNone()
	taken.release(b.Files[0].Path)
	h.advance(time.Second, time.Second)
	got := h.recv()
	if !reflect.DeepEqual(got.Files, b.Files) {
		t.Errorf("offered again %+v, want %+v", got.Files, b.Files)
	}
}

// A batch still waiting for the pipeline to receive it is not the pipeline's
// yet: it is never queued a second time, however long it waits.
func TestQueuedBatchNotOfferedAgain(t *testing.T) {
	taken := &takenSet{paths: map[string]bool{}}
	h := newHarness(t, harnessOpts{
		inbox: Inbox{StableFor: time.Second, Settle: time.Second, RescanInterval: time.Second},
		taken: taken,
		setup: func(h *harness) {
			write(t, filepath.Join(h.root, "s", "a.pdf"), []byte("a"), time.Now().Add(-time.Hour))
		},
	})
	for range 30 {
		h.clk.Advance(time.Second)
		if n := h.sync(); n != 1 {
			t.Fatalf("%d batches queued at %v, want 1", n, h.clk.Now())
		}
	}
	h.recv()
	h.sync()
	h.advance(6*time.Second, time.Second) // within the grace of the receipt
	h.expectNone()
}

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		glob, name string
		fold, want bool
	}{
		{"*.bak", "old.bak", false, true},
		{"*.bak", "OLD.BAK", false, false},
		{"*.bak", "OLD.BAK", true, true},
		{"Draft-*", "draft-1.pdf", true, true},
		{"Draft-*", "draft-1.pdf", false, false},
		{"[a-c]*.PDF", "B1.pdf", true, true},
		{"[a-c]*.PDF", "d1.pdf", true, false},
		{"relevé-*", "RELEVÉ-1.pdf", true, true},
		{"*.bak", "old.bak.pdf", true, false},
		{"[a", "[a", true, false},  // malformed: matches nothing
		{"[Z-a]", "_", true, true}, // a range lower-casing would empty still matches
	}
	for _, tt := range tests {
		if got := matchGlob(tt.glob, tt.name, tt.fold); got != tt.want {
			t.Errorf("matchGlob(%q, %q, fold=%v) = %v, want %v", tt.glob, tt.name, tt.fold, got, tt.want)
		}
	}
}

// The finding's case: eight files dropped once (the store could not persist
// them), then persisted when offered again; after that, never again.
func TestDroppedThenPersistedOfferedOnce(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	taken := &takenSet{paths: map[string]bool{}}
	h := newHarness(t, harnessOpts{
		inbox: Inbox{StableFor: 5 * time.Second, Settle: 30 * time.Second, RescanInterval: 60 * time.Second},
		taken: taken,
		setup: func(h *harness) {
			for i := range 8 {
				write(t, filepath.Join(h.root, "applicant", fmt.Sprintf("stmt-%d.pdf", i)), []byte{byte(i)}, old)
			}
		},
	})
	first := h.recv() // "record batch …: no space left on device"
	h.sync()
	var again []Batch
	for range 5 * 60 {
		h.clk.Advance(time.Second)
		for _, b := range h.drain() {
			taken.hold(b) // space freed: this time it is persisted
			again = append(again, b)
		}
	}
	if len(again) != 1 {
		t.Fatalf("offered again %d times over 5 rescans, want 1", len(again))
	}
	if !reflect.DeepEqual(again[0], first) {
		t.Errorf("offered again %+v, want %+v", again[0], first)
	}
}
