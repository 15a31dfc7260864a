package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/testutil"
	"github.com/flinkdrop/flinkdrop/report"
	"github.com/flinkdrop/flinkdrop/store"
	"github.com/flinkdrop/flinkdrop/uploader"
	"github.com/flinkdrop/flinkdrop/watcher"
)

// Sample contents whose first bytes are each type's magic.
var (
	pdfData  = []byte("%PDF-1.4\n% a statement\n%%EOF\n")
	pngData  = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'}
	jpegData = []byte{0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0}
	tiffData = []byte{'I', 'I', 0x2a, 0, 8, 0, 0, 0, 0, 0}
)

// env is one inbox with its folders, a store and a fake Flinks.
type env struct {
	t                              testing.TB
	inbox, outbox, archive, failed string
	st                             *store.Store
	up                             *fakeUploader
	opts                           Options
	hookMu                         sync.Mutex
	hooks                          []string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	root := t.TempDir()
	e := &env{t: t, up: newFake()}
	mk := func(name string) string {
		d := filepath.Join(root, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	e.inbox, e.outbox, e.archive, e.failed = mk("inbox"), mk("outbox"), mk("archive"), mk("failed")
	st, err := store.Open(filepath.Join(root, "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e.st = st
	e.opts = Options{
		Workers:        2,
		Inboxes:        []InboxConfig{{Path: e.inbox, Outbox: e.outbox, Archive: e.archive, Failed: e.failed, Tag: "t1", ClientName: "c1"}},
		Log:            zerolog.Nop(),
		Backoff:        uploader.Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond},
		CredentialsMax: 5 * time.Millisecond,
		PollInterval:   time.Millisecond,
		Once:           true,
		Hook:           e.hook,
	}
	return e
}

func (e *env) hook(point string) {
	e.hookMu.Lock()
	e.hooks = append(e.hooks, point)
	e.hookMu.Unlock()
}

func (e *env) pipeline() *Pipeline {
	e.t.Helper()
	p, err := New(e.st, e.up, e.opts)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return p
}

// batch writes files into folder (relative, "" for the inbox root) and
// returns the batch the watcher would send.
func (e *env) batch(folder string, files map[string][]byte) watcher.Batch {
	e.t.Helper()
	dir := filepath.Join(e.inbox, filepath.FromSlash(folder))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	b := watcher.Batch{Inbox: e.inbox, Folder: folder, Dir: dir}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, files[n], 0o644); err != nil {
			e.t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			e.t.Fatal(err)
		}
		b.Files = append(b.Files, watcher.File{Path: p, Name: n, Size: fi.Size(), ModTime: fi.ModTime()})
	}
	return b
}

// runOnce runs the pipeline in Once mode over the batches.
func (e *env) runOnce(p *Pipeline, batches ...watcher.Batch) error {
	e.t.Helper()
	ch := make(chan watcher.Batch, len(batches))
	for _, b := range batches {
		ch <- b
	}
	close(ch)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := p.Run(ctx, ch)
	if errors.Is(err, context.DeadlineExceeded) {
		e.t.Fatalf("Run did not finish: %v (snapshot %+v)", err, p.Snapshot())
	}
	return err
}

// reports reads and validates every report in the outbox, by folder.
func (e *env) reports() map[string]report.Report {
	e.t.Helper()
	return e.readReports(1)
}

// readReports reads every report in the outbox, by folder, and validates
// one in every validateEvery against the schema (validating is slow under
// -race; a thousand reports need not all be checked).
func (e *env) readReports(validateEvery int) map[string]report.Report {
	e.t.Helper()
	out := map[string]report.Report{}
	entries, err := os.ReadDir(e.outbox)
	if err != nil {
		e.t.Fatal(err)
	}
	seen := 0
	for _, de := range entries {
		if !strings.HasSuffix(de.Name(), ".json") {
			continue
		}
		seen++
		data := testutil.ReadFile(e.t, filepath.Join(e.outbox, de.Name()))
		if seen%validateEvery == 0 {
			if err := report.Validate(data); err != nil {
				e.t.Errorf("report %s does not validate: %v\n%s", de.Name(), err, data)
			}
		}
		var r report.Report
		if err := json.Unmarshal(data, &r); err != nil {
			e.t.Fatal(err)
		}
		key := r.Folder
		if key == "" && len(r.Files) > 0 {
			key = r.Files[0].Name
		}
		out[key] = r
	}
	return out
}

// progressing polls count until it reaches want. It fails only when count
// has not changed for 20 s: a long run on a loaded machine is slow, not
// stuck, while a session that is never dispatched still fails the test.
func progressing(t *testing.T, what string, want int, count func() int) {
	t.Helper()
	const stall = 20 * time.Second
	last, since := count(), time.Now()
	for last != want {
		time.Sleep(time.Millisecond)
		if n := count(); n != last {
			last, since = n, time.Now()
			continue
		}
		if time.Since(since) > stall {
			t.Fatalf("waiting for %s: stuck at %d of %d for %s", what, last, want, stall)
		}
	}
}

// eventually polls cond until it holds, failing the test after 90 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	// A failure bound, not a timing assertion: under -race with every
	// package's tests running at once, 1,000 sessions of fsynced
	// transactions take tens of seconds on two cores.
	testutil.WaitFor(t, 90*time.Second, what, cond)
}

func fileStatuses(r report.Report) map[string]string {
	out := map[string]string{}
	for _, f := range r.Files {
		out[f.Name] = f.Status
	}
	return out
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
