package watcher

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/clock"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
)

// recvTimeout bounds every wait for a batch; it is a deadline for a
// condition, never a duration the test relies on.
const recvTimeout = 10 * time.Second

// harness runs one Watcher on a fake clock and a temporary inbox.
type harness struct {
	t    *testing.T
	clk  *clock.Fake
	w    *Watcher
	root string
	out  chan Batch
	done chan error
	logs *testutil.SyncBuffer
}

type harnessOpts struct {
	inbox  Inbox // Path is filled in when empty
	taken  Taken
	probe  func(string) error
	events bool
	once   bool
	// setup runs after the inbox exists and before the watcher starts.
	setup func(h *harness)
}

// newHarness builds the watcher; start runs it.
func newHarness(t *testing.T, o harnessOpts) *harness {
	t.Helper()
	h := &harness{
		t:    t,
		clk:  clock.NewFake(time.Now().Truncate(time.Second)),
		root: o.inbox.Path,
		out:  make(chan Batch),
		done: make(chan error, 1),
		logs: &testutil.SyncBuffer{},
	}
	if h.root == "" {
		h.root = t.TempDir()
	}
	in := o.inbox
	in.Path = h.root
	if in.RescanInterval == 0 {
		in.RescanInterval = time.Hour
	}
	w, err := New(Options{
		Inboxes:       []Inbox{in},
		Taken:         o.taken,
		Clock:         h.clk,
		Log:           zerolog.New(h.logs),
		DisableEvents: !o.events,
		Probe:         o.probe,
	})
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	h.w = w
	if o.setup != nil {
		o.setup(h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := w.Run
	if o.once {
		run = w.Once
	}
	go func() { h.done <- run(ctx, h.out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("Run() = %v, want nil", err)
			}
			h.done <- err
		case <-time.After(recvTimeout):
			t.Errorf("Run did not return after cancel")
		}
	})
	h.sync() // the initial scan is over before the test moves the clock
	return h
}

// sync waits until the watcher has handled everything before the call
// (including a timer the clock just fired) and returns how many batches it
// holds ready to send. It fails the test if the watcher has returned.
func (h *harness) sync() int {
	h.t.Helper()
	reply := make(chan int, 1)
	select {
	case h.w.syncCh <- reply:
		return <-reply
	case err := <-h.done:
		h.done <- err
		h.t.Fatalf("watcher returned %v while the test still talks to it", err)
	case <-time.After(recvTimeout):
		h.t.Fatal("watcher did not answer sync")
	}
	return 0
}

// advance moves the fake clock in steps no longer than step, letting the
// watcher handle each step.
func (h *harness) advance(total, step time.Duration) {
	h.t.Helper()
	for total > 0 {
		d := min(step, total)
		h.clk.Advance(d)
		h.sync()
		total -= d
	}
}

// recv waits for the next batch.
func (h *harness) recv() Batch {
	h.t.Helper()
	select {
	case b := <-h.out:
		return b
	case <-time.After(recvTimeout):
		h.t.Fatal("no batch arrived")
	}
	return Batch{}
}

// expectNone checks that the watcher holds no batch.
func (h *harness) expectNone() {
	h.t.Helper()
	if n := h.sync(); n != 0 {
		b := h.recv()
		h.t.Fatalf("got a batch for folder %q with %v, want none", b.Folder, names(b))
	}
}

// drain returns every batch the watcher holds now.
func (h *harness) drain() []Batch {
	h.t.Helper()
	var got []Batch
	for h.sync() > 0 {
		got = append(got, h.recv())
	}
	return got
}

// write creates path (and its folders) with data and sets the mtime of the
// file and of its folder to mtime.
func write(t testing.TB, path string, data []byte, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	touch(t, path, mtime)
	touch(t, filepath.Dir(path), mtime)
}

// appendTo appends data to path and sets its mtime.
func appendTo(t testing.TB, path string, data []byte, mtime time.Time) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	touch(t, path, mtime)
}

func touch(t testing.TB, path string, mtime time.Time) {
	t.Helper()
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// names lists a batch's file names.
func names(b Batch) []string {
	out := make([]string, 0, len(b.Files))
	for _, f := range b.Files {
		out = append(out, f.Name)
	}
	return out
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// byFolder indexes batches by folder, failing on a folder seen twice.
func byFolder(t *testing.T, bs []Batch) map[string]Batch {
	t.Helper()
	m := make(map[string]Batch, len(bs))
	for _, b := range bs {
		if _, dup := m[b.Folder]; dup {
			t.Errorf("folder %q handed over twice", b.Folder)
		}
		m[b.Folder] = b
	}
	return m
}

// takenSet is a Taken backed by a set of paths.
type takenSet struct {
	mu    sync.Mutex
	paths map[string]bool
}

func (s *takenSet) Taken(path string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paths[path]
}
