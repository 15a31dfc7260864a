package watcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"
)

func TestNewValidates(t *testing.T) {
	abs := t.TempDir()
	tests := []struct {
		name    string
		inboxes []Inbox
		want    error
	}{
		{"no inboxes", nil, ErrNoInboxes},
		{"relative path", []Inbox{{Path: "inbox"}}, ErrBadInbox},
		{"empty path", []Inbox{{Path: ""}}, ErrBadInbox},
		{"negative settle", []Inbox{{Path: abs, Settle: -time.Second}}, ErrBadInbox},
		{"bad glob", []Inbox{{Path: abs, Ignore: []string{"[a"}}}, ErrBadInbox},
		{"marker with separator", []Inbox{{Path: abs, ReadyMarker: "a/READY"}}, ErrBadInbox},
		{"nested inboxes", []Inbox{{Path: abs}, {Path: filepath.Join(abs, "sub")}}, ErrBadInbox},
		{"same inbox twice", []Inbox{{Path: abs}, {Path: abs + string(filepath.Separator)}}, ErrBadInbox},
		{"relative skip", []Inbox{{Path: abs, Skip: []string{"out"}}}, ErrBadInbox},
		{"ok", []Inbox{{Path: abs}, {Path: abs + "-other"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Options{Inboxes: tt.inboxes})
			if !errors.Is(err, tt.want) {
				t.Errorf("New() error = %v, want %v", err, tt.want)
			}
		})
	}
}

// A writer that appends in chunks with pauses shorter than stable_for must
// never produce a batch holding a partial file.
func TestScannerWriterNeverYieldsPartialFile(t *testing.T) {
	tests := []struct {
		events bool
		settle time.Duration
		folder string
	}{
		{false, 30 * time.Second, "applicant-7"},
		{true, 30 * time.Second, "applicant-7"},
		{false, 0, "applicant-7"}, // stability alone holds the folder open
		{true, 0, "applicant-7"},
		{false, 0, ""}, // root files
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("events=%v,settle=%v,folder=%q", tt.events, tt.settle, tt.folder), func(t *testing.T) {
			h := newHarness(t, harnessOpts{
				inbox:  Inbox{StableFor: 5 * time.Second, Settle: tt.settle, RescanInterval: time.Second},
				events: tt.events,
			})
			rng := rand.New(rand.NewSource(42))
			dir := filepath.Join(h.root, tt.folder)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			want := map[string]int64{}
			var got []Batch
			for i := range 5 {
				name := fmt.Sprintf("page-%d.pdf", i)
				path := filepath.Join(dir, name)
				for c := range 4 {
					chunk := bytes.Repeat([]byte{byte('a' + c)}, 1000+rng.Intn(5000))
					appendTo(t, path, chunk, h.clk.Now())
					want[name] += int64(len(chunk))
					pause := 200*time.Millisecond + time.Duration(rng.Int63n(int64(3800*time.Millisecond)))
					h.advance(pause, 300*time.Millisecond)
					got = append(got, h.drain()...)
				}
			}
			h.advance(40*time.Second, time.Second)
			got = append(got, h.drain()...)
			taken := map[string]bool{}
			for _, b := range got {
				for _, f := range b.Files {
					if f.Size != want[f.Name] {
						t.Errorf("file %s taken with %d bytes, want %d (partial)", f.Name, f.Size, want[f.Name])
					}
					if taken[f.Name] {
						t.Errorf("file %s handed over twice", f.Name)
					}
					taken[f.Name] = true
				}
			}
			if len(taken) != len(want) {
				t.Errorf("handed %d files, want %d", len(taken), len(want))
			}
			if tt.folder != "" && len(got) != 1 {
				t.Errorf("got %d batches, want 1", len(got))
			}
		})
	}
}

func TestManyFilesDroppedAtOnceMakeOneBatch(t *testing.T) {
	h := newHarness(t, harnessOpts{
		inbox:  Inbox{StableFor: 2 * time.Second, Settle: 10 * time.Second, RescanInterval: 3 * time.Second},
		events: true,
	})
	h.sync()
	dir := filepath.Join(h.root, "big drop")
	var want []string
	for i := range 500 {
		name := fmt.Sprintf("scan-%03d.pdf", i)
		write(t, filepath.Join(dir, name), []byte(name), h.clk.Now())
		want = append(want, name)
		if i%100 == 99 {
			h.advance(500*time.Millisecond, 100*time.Millisecond) // let partial scans happen
		}
	}
	h.advance(30*time.Second, 500*time.Millisecond)
	got := h.drain()
	if len(got) != 1 {
		t.Fatalf("got %d batches, want 1", len(got))
	}
	if !sameStrings(names(got[0]), want) {
		t.Errorf("batch has %d files, want %d", len(got[0].Files), len(want))
	}
	if got[0].Folder != "big drop" || got[0].Dir != dir || got[0].Inbox != h.root {
		t.Errorf("batch = {Inbox %q Folder %q Dir %q}, want {%q %q %q}", got[0].Inbox, got[0].Folder, got[0].Dir, h.root, "big drop", dir)
	}
}

// Folders in place at start with old files close at once, without waiting
// for settle; a folder first seen with a recent mtime (files being copied in
// with their old mtimes kept) waits for settle.
func TestStartupFolders(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	h := newHarness(t, harnessOpts{
		inbox: Inbox{StableFor: 5 * time.Second, Settle: 30 * time.Second},
		setup: func(h *harness) {
			write(t, filepath.Join(h.root, "settled", "a.pdf"), []byte("a"), old)
			write(t, filepath.Join(h.root, "copying", "b.pdf"), []byte("b"), old)
			touch(t, filepath.Join(h.root, "copying"), h.clk.Now())
		},
	})
	b := h.recv()
	if b.Folder != "settled" {
		t.Errorf("batch at start = %q, want settled", b.Folder)
	}
	h.expectNone()
	h.advance(30*time.Second, time.Second)
	if b := h.recv(); b.Folder != "copying" {
		t.Errorf("batch after settle = %q, want copying", b.Folder)
	}
}

func TestReadyMarker(t *testing.T) {
	tests := []struct {
		name    string
		fileAge time.Duration // how old the files are at start
		wait    time.Duration // fake time before the batch may come
	}{
		{"stable files close at once", time.Hour, 0},
		{"waits for files still being written", 0, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dir string
			h := newHarness(t, harnessOpts{
				inbox: Inbox{StableFor: 5 * time.Second, Settle: time.Hour, ReadyMarker: "READY"},
				setup: func(h *harness) {
					dir = filepath.Join(h.root, "a")
					old := h.clk.Now().Add(-tt.fileAge)
					write(t, filepath.Join(dir, "1.pdf"), []byte("one"), old)
					write(t, filepath.Join(dir, "2.pdf"), []byte("two"), old)
					write(t, filepath.Join(dir, "READY"), nil, old)
				},
			})
			if tt.wait > 0 {
				h.advance(tt.wait-time.Second, time.Second)
				h.expectNone()
				h.advance(time.Second, time.Second)
			}
			b := h.recv()
			if want := []string{"1.pdf", "2.pdf"}; !sameStrings(names(b), want) {
				t.Errorf("files = %v, want %v (marker must not be a file)", names(b), want)
			}
			if want := filepath.Join(dir, "READY"); b.Marker != want {
				t.Errorf("Marker = %q, want %q", b.Marker, want)
			}
			// The marker that closed this batch does not close the next one.
			write(t, filepath.Join(dir, "3.pdf"), []byte("three"), h.clk.Now().Add(-time.Hour))
			h.advance(3*time.Hour, 10*time.Minute)
			b = h.recv()
			if b.Marker != "" || !sameStrings(names(b), []string{"3.pdf"}) {
				t.Errorf("next batch = %v marker %q, want [3.pdf] closed by settle", names(b), b.Marker)
			}
		})
	}
}

func TestMarkerAppearingClosesFolder(t *testing.T) {
	h := newHarness(t, harnessOpts{
		inbox:  Inbox{StableFor: time.Second, Settle: time.Hour, ReadyMarker: "done.flag"},
		events: true,
	})
	h.sync()
	dir := filepath.Join(h.root, "b")
	write(t, filepath.Join(dir, "x.pdf"), []byte("x"), h.clk.Now())
	h.advance(10*time.Second, time.Second)
	h.expectNone()
	write(t, filepath.Join(dir, "done.flag"), nil, h.clk.Now())
	h.w.Rescan() // events may or may not have arrived; the rescan makes it certain
	h.advance(time.Second, time.Second)
	b := h.recv()
	if !sameStrings(names(b), []string{"x.pdf"}) || b.Marker == "" {
		t.Errorf("batch = %v marker %q, want [x.pdf] with marker", names(b), b.Marker)
	}
}

func TestSettle(t *testing.T) {
	h := newHarness(t, harnessOpts{inbox: Inbox{StableFor: 0, Settle: 30 * time.Second, RescanInterval: time.Second}})
	h.sync()
	start := h.clk.Now()
	dir := filepath.Join(h.root, "s")
	write(t, filepath.Join(dir, "1.pdf"), []byte("1"), start)
	h.advance(20*time.Second, time.Second)
	h.expectNone()
	write(t, filepath.Join(dir, "2.pdf"), []byte("2"), h.clk.Now())
	h.advance(20*time.Second, time.Second) // 40 s after the first file, 20 s after the second
	h.expectNone()
	h.advance(15*time.Second, time.Second)
	b := h.recv()
	if want := []string{"1.pdf", "2.pdf"}; !sameStrings(names(b), want) {
		t.Errorf("files = %v, want %v", names(b), want)
	}
	if want := start.Add(time.Second); !b.FirstSeen.Equal(want) {
		t.Errorf("FirstSeen = %v, want %v (the first rescan after the file came)", b.FirstSeen, want)
	}

	// Files arriving after the hand-over are the folder's next batch.
	write(t, filepath.Join(dir, "3.pdf"), []byte("3"), h.clk.Now())
	h.advance(29*time.Second, time.Second)
	h.expectNone()
	h.advance(3*time.Second, time.Second)
	b = h.recv()
	if want := []string{"3.pdf"}; !sameStrings(names(b), want) {
		t.Errorf("next batch files = %v, want %v", names(b), want)
	}
	h.advance(time.Minute, 5*time.Second)
	h.expectNone()
}

func TestFolderRenamedOrDeletedWhileCollecting(t *testing.T) {
	for _, events := range []bool{false, true} {
		t.Run(fmt.Sprintf("events=%v", events), func(t *testing.T) {
			h := newHarness(t, harnessOpts{
				inbox:  Inbox{StableFor: time.Second, Settle: 30 * time.Second, RescanInterval: 2 * time.Second},
				events: events,
			})
			h.sync()
			write(t, filepath.Join(h.root, "old", "1.pdf"), []byte("1"), h.clk.Now())
			write(t, filepath.Join(h.root, "gone", "2.pdf"), []byte("2"), h.clk.Now())
			h.advance(5*time.Second, time.Second)
			h.expectNone()
			if err := os.Rename(filepath.Join(h.root, "old"), filepath.Join(h.root, "new")); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(filepath.Join(h.root, "gone")); err != nil {
				t.Fatal(err)
			}
			h.advance(time.Minute, time.Second)
			got := byFolder(t, h.drain())
			if len(got) != 1 {
				t.Fatalf("got batches for %v, want only \"new\"", got)
			}
			b, ok := got["new"]
			if !ok || b.Dir != filepath.Join(h.root, "new") || !sameStrings(names(b), []string{"1.pdf"}) {
				t.Errorf("batch = %+v, want folder new with [1.pdf]", b)
			}
		})
	}
}

func TestRescanOnlyFindsEverything(t *testing.T) {
	h := newHarness(t, harnessOpts{inbox: Inbox{StableFor: 5 * time.Second, Settle: 10 * time.Second, RescanInterval: 20 * time.Second}})
	h.sync()
	now := h.clk.Now()
	write(t, filepath.Join(h.root, "late", "a.pdf"), []byte("a"), now)
	write(t, filepath.Join(h.root, "late", "deeper", "b.pdf"), []byte("b"), now)
	write(t, filepath.Join(h.root, "root.pdf"), []byte("r"), now)
	h.advance(19*time.Second, time.Second)
	h.expectNone() // no events: nothing seen before the rescan
	h.advance(30*time.Second, time.Second)
	got := byFolder(t, h.drain())
	for folder, want := range map[string][]string{"late": {"a.pdf"}, "late/deeper": {"b.pdf"}, "": {"root.pdf"}} {
		if !sameStrings(names(got[folder]), want) {
			t.Errorf("folder %q files = %v, want %v", folder, names(got[folder]), want)
		}
	}
	if len(got) != 3 {
		t.Errorf("got %d batches, want 3", len(got))
	}
}

func TestWatcherErrorTriggersFullRescan(t *testing.T) {
	for _, err := range []error{fsnotify.ErrEventOverflow, errors.New("inotify read failed")} {
		t.Run(err.Error(), func(t *testing.T) {
			h := newHarness(t, harnessOpts{inbox: Inbox{StableFor: 0, Settle: 0}}) // rescan every hour
			h.sync()
			write(t, filepath.Join(h.root, "x", "a.pdf"), []byte("a"), h.clk.Now())
			h.advance(time.Minute, 10*time.Second)
			h.expectNone()
			h.w.errCh <- err
			b := h.recv()
			if b.Folder != "x" || !sameStrings(names(b), []string{"a.pdf"}) {
				t.Errorf("batch = %q %v, want x [a.pdf]", b.Folder, names(b))
			}
		})
	}
}

func TestIgnoredName(t *testing.T) {
	in := &inbox{Inbox: Inbox{ReadyMarker: "READY.txt", Ignore: []string{"*.bak", "draft-*"}}}
	tests := []struct {
		name string
		want bool
	}{
		{"statement.pdf", false},
		{"Relevé janvier.PDF", false},
		{".hidden.pdf", true},
		{".", true},
		{"~$lock.docx", true},
		{"scan.tmp", true},
		{"scan.TMP", true},
		{"scan.pdf.part", true},
		{"SCAN.PART", true},
		{"Thumbs.db", true},
		{"thumbs.DB", true},
		{"desktop.ini", true},
		{"Desktop.INI", true},
		{"READY.txt", true},
		{"old.bak", true},
		{"draft-1.pdf", true},
		{"final-draft-1.pdf", false},
		{"tmp.pdf", false},
		{"partial.pdf", false},
	}
	for _, tt := range tests {
		if got := ignoredName(tt.name, in); got != tt.want {
			t.Errorf("ignoredName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestIgnoredFilesAndFoldersNeverHanded(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	h := newHarness(t, harnessOpts{
		inbox: Inbox{Ignore: []string{"*.bak"}},
		setup: func(h *harness) {
			for _, n := range []string{"keep.pdf", ".hidden.pdf", "~$x.pdf", "a.tmp", "b.part", "Thumbs.db", "desktop.ini", "c.bak"} {
				write(t, filepath.Join(h.root, "f", n), []byte(n), old)
			}
			write(t, filepath.Join(h.root, ".reports", "r.pdf"), []byte("r"), old)
			write(t, filepath.Join(h.root, ".root-hidden.pdf"), []byte("h"), old)
		},
	})
	got := byFolder(t, h.drain())
	if want := []string{"keep.pdf"}; !sameStrings(names(got["f"]), want) {
		t.Errorf("folder f files = %v, want %v", names(got["f"]), want)
	}
	if _, ok := got[".reports"]; ok {
		t.Error("hidden folder .reports handed over")
	}
	if _, ok := got[""]; ok {
		t.Error("hidden root file handed over")
	}
}

func TestSkipFolders(t *testing.T) {
	root := t.TempDir()
	old := time.Now().Add(-time.Hour)
	write(t, filepath.Join(root, "outbox", "report.pdf"), []byte("r"), old)
	write(t, filepath.Join(root, "in", "a.pdf"), []byte("a"), old)
	h := newHarness(t, harnessOpts{inbox: Inbox{Path: root, Skip: []string{filepath.Join(root, "outbox")}}})
	got := byFolder(t, h.drain())
	if _, ok := got["outbox"]; ok || len(got) != 1 {
		t.Errorf("got batches for %v, want only \"in\"", got)
	}
}

func TestSymlinksSkipped(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("creating symbolic links needs a privilege on Windows")
	}
	outside := t.TempDir()
	old := time.Now().Add(-time.Hour)
	write(t, filepath.Join(outside, "target.pdf"), []byte("t"), old)
	write(t, filepath.Join(outside, "dir", "inner.pdf"), []byte("i"), old)
	h := newHarness(t, harnessOpts{
		inbox: Inbox{RescanInterval: time.Second},
		setup: func(h *harness) {
			write(t, filepath.Join(h.root, "f", "real.pdf"), []byte("r"), old)
			for link, target := range map[string]string{
				filepath.Join(h.root, "f", "link.pdf"): filepath.Join(outside, "target.pdf"),
				filepath.Join(h.root, "linkdir"):       filepath.Join(outside, "dir"),
			} {
				if err := os.Symlink(target, link); err != nil {
					t.Fatal(err)
				}
			}
		},
	})
	h.advance(5*time.Second, time.Second) // five rescans
	got := byFolder(t, h.drain())
	if len(got) != 1 || !sameStrings(names(got["f"]), []string{"real.pdf"}) {
		t.Errorf("got %v, want only f with [real.pdf]", got)
	}
	if n := strings.Count(h.logs.String(), "symbolic link skipped"); n != 2 {
		t.Errorf("logged %d symlink lines over 6 scans, want 2 (one per link)", n)
	}
}

func TestTakenFileNeverHanded(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	taken := &takenSet{paths: map[string]bool{}}
	h := newHarness(t, harnessOpts{
		inbox: Inbox{RescanInterval: time.Second},
		taken: taken,
		setup: func(h *harness) {
			write(t, filepath.Join(h.root, "mixed", "held.pdf"), []byte("h"), old)
			write(t, filepath.Join(h.root, "mixed", "new.pdf"), []byte("n"), old)
			write(t, filepath.Join(h.root, "all", "held.pdf"), []byte("h"), old)
			taken.paths[filepath.Join(h.root, "mixed", "held.pdf")] = true
			taken.paths[filepath.Join(h.root, "all", "held.pdf")] = true
		},
	})
	h.advance(5*time.Second, time.Second)
	got := byFolder(t, h.drain())
	if len(got) != 1 || !sameStrings(names(got["mixed"]), []string{"new.pdf"}) {
		t.Errorf("got %v, want only mixed with [new.pdf]", got)
	}
}

// A file changed while its session holds it is not handed again; once no
// session holds it, the changed file is a new file.
func TestChangedWhileTakenNotHandedAgain(t *testing.T) {
	taken := &takenSet{paths: map[string]bool{}}
	h := newHarness(t, harnessOpts{
		inbox: Inbox{StableFor: time.Second, RescanInterval: time.Second},
		taken: taken,
		setup: func(h *harness) {
			write(t, filepath.Join(h.root, "s", "a.pdf"), []byte("a"), time.Now().Add(-time.Hour))
		},
	})
	b := h.recv()
	taken.mu.Lock()
	taken.paths[b.Files[0].Path] = true
	taken.mu.Unlock()
	appendTo(t, b.Files[0].Path, []byte(" edited"), h.clk.Now())
	h.advance(10*time.Second, time.Second)
	h.expectNone()
	taken.mu.Lock()
	delete(taken.paths, b.Files[0].Path)
	taken.mu.Unlock()
	h.advance(3*time.Second, time.Second)
	if b := h.recv(); b.Files[0].Size != int64(len("a edited")) {
		t.Errorf("re-handed with %d bytes, want %d", b.Files[0].Size, len("a edited"))
	}
}

func TestSameFileNeverHandedTwice(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	h := newHarness(t, harnessOpts{
		inbox:  Inbox{StableFor: time.Second, Settle: time.Second, RescanInterval: time.Second, ReadyMarker: "READY"},
		events: true,
		setup: func(h *harness) {
			write(t, filepath.Join(h.root, "a", "1.pdf"), []byte("1"), old)
			write(t, filepath.Join(h.root, "a", "READY"), nil, old)
			write(t, filepath.Join(h.root, "r.pdf"), []byte("r"), old)
		},
	})
	if got := h.drain(); len(got) != 2 {
		t.Fatalf("got %d batches at start, want 2", len(got))
	}
	for range 3 {
		h.w.Rescan()
		h.w.errCh <- fsnotify.ErrEventOverflow
		h.advance(10*time.Second, time.Second)
		h.expectNone()
	}
	// A file that goes away and comes back changed is a new file.
	p := filepath.Join(h.root, "a", "1.pdf")
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	h.advance(2*time.Second, time.Second)
	write(t, p, []byte("1 again"), h.clk.Now())
	h.advance(10*time.Second, time.Second)
	b := h.recv()
	if !sameStrings(names(b), []string{"1.pdf"}) || b.Files[0].Size != int64(len("1 again")) {
		t.Errorf("batch = %+v, want the new 1.pdf", b.Files)
	}
}

func TestOnce(t *testing.T) {
	root := t.TempDir()
	now := time.Now().Truncate(time.Second)
	old := now.Add(-time.Hour)
	write(t, filepath.Join(root, "done", "a.pdf"), []byte("a"), old)
	write(t, filepath.Join(root, "writing", "b.pdf"), []byte("b"), now)
	write(t, filepath.Join(root, "r.pdf"), []byte("r"), old)
	h := newHarness(t, harnessOpts{
		inbox: Inbox{Path: root, StableFor: 5 * time.Second, Settle: time.Hour},
		once:  true,
	})
	first := byFolder(t, []Batch{h.recv(), h.recv()})
	if !sameStrings(names(first["done"]), []string{"a.pdf"}) || !sameStrings(names(first[""]), []string{"r.pdf"}) {
		t.Errorf("first batches = %v, want done [a.pdf] and root [r.pdf] without waiting for settle", first)
	}
	// Arrivals after the start wait for the next run.
	write(t, filepath.Join(root, "writing", "c.pdf"), []byte("c"), h.clk.Now())
	write(t, filepath.Join(root, "later", "d.pdf"), []byte("d"), h.clk.Now())
	h.advance(6*time.Second, time.Second)
	b := h.recv()
	if b.Folder != "writing" || !sameStrings(names(b), []string{"b.pdf"}) {
		t.Errorf("batch = %q %v, want writing [b.pdf]", b.Folder, names(b))
	}
	select {
	case err := <-h.done:
		h.done <- err
		if err != nil {
			t.Errorf("Once() = %v, want nil", err)
		}
	case b := <-h.out:
		t.Errorf("extra batch %q %v after the start set", b.Folder, names(b))
	case <-time.After(recvTimeout):
		t.Error("Once did not return after its last batch")
	}
}

func TestOnceStopsOnCancel(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "w", "a.pdf"), []byte("a"), time.Now().Add(time.Hour))
	w, err := New(Options{Inboxes: []Inbox{{Path: root, StableFor: time.Hour}}, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Once(ctx, make(chan Batch)); !errors.Is(err, context.Canceled) {
		t.Errorf("Once() on a cancelled context = %v, want context.Canceled", err)
	}
}

func TestRootFilesAreBatchesOfTheirOwn(t *testing.T) {
	h := newHarness(t, harnessOpts{inbox: Inbox{StableFor: 3 * time.Second, Settle: time.Hour, RescanInterval: time.Second}})
	h.sync()
	write(t, filepath.Join(h.root, "one.pdf"), []byte("1"), h.clk.Now())
	write(t, filepath.Join(h.root, "two.pdf"), []byte("22"), h.clk.Now())
	h.advance(2*time.Second, time.Second)
	h.expectNone() // stable_for applies to root files
	h.advance(3*time.Second, time.Second)
	got := h.drain()
	if len(got) != 2 {
		t.Fatalf("got %d batches, want 2", len(got))
	}
	for _, b := range got {
		if b.Folder != "" || b.Dir != h.root || len(b.Files) != 1 || b.Marker != "" {
			t.Errorf("root batch = %+v, want folder \"\" in %s with one file", b, h.root)
		}
	}
}

// A file that turns up while running with an old mtime (a copy keeping its
// source's mtime) is not taken at first sight: it may still be growing.
func TestOldMtimeArrivalGetsSecondLook(t *testing.T) {
	h := newHarness(t, harnessOpts{inbox: Inbox{StableFor: 5 * time.Second, RescanInterval: time.Second}})
	p := filepath.Join(h.root, "copied.pdf")
	old := h.clk.Now().Add(-24 * time.Hour)
	write(t, p, []byte("first half"), old)
	h.advance(time.Second, time.Second) // the rescan sees it
	h.expectNone()
	appendTo(t, p, []byte(" second half"), old) // still the old mtime
	h.advance(time.Second, time.Second)
	h.expectNone()
	h.advance(5*time.Second, time.Second)
	b := h.recv()
	if want := int64(len("first half second half")); b.Files[0].Size != want {
		t.Errorf("taken with %d bytes, want %d", b.Files[0].Size, want)
	}
}

func TestNestedFoldersAreBatchesOfTheirOwn(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	h := newHarness(t, harnessOpts{setup: func(h *harness) {
		write(t, filepath.Join(h.root, "a", "1.pdf"), []byte("1"), old)
		write(t, filepath.Join(h.root, "a", "b", "2.pdf"), []byte("2"), old)
		write(t, filepath.Join(h.root, "a", "b", "c", "3.pdf"), []byte("3"), old)
		touch(t, filepath.Join(h.root, "a", "b"), old)
		touch(t, filepath.Join(h.root, "a"), old)
	}})
	got := byFolder(t, h.drain())
	want := map[string][]string{"a": {"1.pdf"}, "a/b": {"2.pdf"}, "a/b/c": {"3.pdf"}}
	if len(got) != len(want) {
		t.Errorf("got %d batches, want %d", len(got), len(want))
	}
	for folder, files := range want {
		if !sameStrings(names(got[folder]), files) {
			t.Errorf("folder %q files = %v, want %v", folder, names(got[folder]), files)
		}
		if want := filepath.Join(h.root, filepath.FromSlash(folder)); got[folder].Dir != want {
			t.Errorf("folder %q Dir = %q, want %q", folder, got[folder].Dir, want)
		}
	}
}

func TestUnicodeAndLongNames(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	long := strings.Repeat("x", 196) + ".pdf" // 200 characters
	uni := "Relevé d'identité — 東京 ✓ 01.pdf"
	folder := "Dossier été 2026 — Ünïcødé"
	h := newHarness(t, harnessOpts{setup: func(h *harness) {
		write(t, filepath.Join(h.root, folder, uni), []byte("u"), old)
		write(t, filepath.Join(h.root, folder, long), []byte("l"), old)
		write(t, filepath.Join(h.root, strings.Repeat("d", 200), "f.pdf"), []byte("f"), old)
	}})
	got := byFolder(t, h.drain())
	if want := []string{uni, long}; !sameStrings(names(got[folder]), want) {
		t.Errorf("folder %q files = %v, want %v", folder, names(got[folder]), want)
	}
	if len(got[strings.Repeat("d", 200)].Files) != 1 {
		t.Errorf("200-character folder not handed over: %v", got)
	}
}

func TestProbeDelaysTaking(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	busy := 2
	probed := 0
	h := newHarness(t, harnessOpts{
		probe: func(path string) error {
			probed++ // called from the watcher goroutine only
			if busy > 0 {
				busy--
				return fmt.Errorf("probe %s: %w", path, ErrFileBusy)
			}
			return nil
		},
		setup: func(h *harness) { write(t, filepath.Join(h.root, "p", "a.pdf"), []byte("a"), old) },
	})
	h.expectNone()
	h.advance(probeRetry, probeRetry)
	h.expectNone()
	h.advance(probeRetry, probeRetry)
	b := h.recv()
	if b.Folder != "p" {
		t.Errorf("batch folder = %q, want p", b.Folder)
	}
	if probed != 3 {
		t.Errorf("probe called %d times, want 3", probed)
	}
}

func TestRunTwiceIsRefused(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.sync()
	if err := h.w.Run(context.Background(), make(chan Batch)); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run() = %v, want ErrRunning", err)
	}
}

// With real fsnotify events and the real clock, a folder created after the
// start is found though the rescan is an hour away.
func TestRealEventsRealClock(t *testing.T) {
	root := t.TempDir()
	w, err := New(Options{
		Inboxes: []Inbox{{Path: root, RescanInterval: time.Hour}},
		Log:     zerolog.Nop(),
		Probe:   func(string) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Batch)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
	})
	reply := make(chan int, 1)
	w.syncCh <- reply // the initial scan is over and the watches are in place
	<-reply

	dir := filepath.Join(root, "evented", "deep")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("pdf"), 1000)
	tmp := filepath.Join(dir, ".incoming")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "doc.pdf")); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-out:
		if b.Folder != "evented/deep" || !sameStrings(names(b), []string{"doc.pdf"}) || b.Files[0].Size != int64(len(data)) {
			t.Errorf("batch = %q %+v, want evented/deep [doc.pdf %d bytes]", b.Folder, b.Files, len(data))
		}
	case <-time.After(recvTimeout):
		t.Fatal("no batch from file events")
	}
}
