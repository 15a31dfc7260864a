package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/testutil"
	"github.com/flinkdrop/flinkdrop/store"
)

// exdev fails every rename as across file systems, so moves copy.
func exdev(oldpath, newpath string) error {
	return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: syscall.EXDEV}
}

// The SHA-256 re-check before complete stops when ctx is done instead of
// reading the whole file first.
func TestRecheckHashStopsOnCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.pdf")
	data := make([]byte, 3<<20) // several of HashFile's 1 MiB chunks
	copy(data, pdfData)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f := store.File{Path: path, Name: "big.pdf", Size: fi.Size(), ModTime: fi.ModTime(), SHA256: sha(data)}
	if why, err := changed(context.Background(), f); why != "" || err != nil {
		t.Fatalf("changed(unchanged file) = %q, %v; want \"\", nil", why, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	why, err := changed(ctx, f)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("changed with a cancelled ctx = %q, %v; want context.Canceled", why, err)
	}
}

// A stop during the cross-device copy of the files leaves the session in
// moving with every file in the inbox; the next run finishes the move.
func TestMoveStopsOnCancel(t *testing.T) {
	e := newEnv(t)
	p := e.pipeline()
	p.rename = exdev
	s, err := p.writeReport(e.reporting(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if s.State != store.StateMoving {
		t.Fatalf("state %s after the report, want moving", s.State)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.moveFiles(ctx, s, zerolog.Nop()); !errors.Is(err, context.Canceled) {
		t.Fatalf("moveFiles with a cancelled ctx = %v, want context.Canceled", err)
	}
	for _, f := range s.Files {
		if _, err := os.Stat(f.Path); err != nil {
			t.Errorf("%s left the inbox during a cancelled move: %v", f.Name, err)
		}
	}
	if got, _ := e.st.Get(s.ID); got.State != store.StateMoving {
		t.Errorf("state %s after a cancelled move, want moving", got.State)
	}
	done, err := p.moveFiles(context.Background(), s, zerolog.Nop())
	if err != nil || done.State != store.StateDone {
		t.Fatalf("moveFiles again = %s, %v; want done", done.State, err)
	}
	for _, f := range s.Files {
		if _, err := os.Stat(f.Path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still in the inbox after the move (err %v)", f.Name, err)
		}
	}
	if got := testutil.ListFiles(t, e.archive); len(got) != 3 {
		t.Errorf("archive holds %v, want the two files and the report", got)
	}
}
