package watcher

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// The zero Options.Log discards messages instead of failing.
func TestZeroLoggerIsSilent(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, ".x", "a.pdf"), nil, time.Now())
	write(t, filepath.Join(root, "f", "b.pdf"), []byte("b"), time.Now().Add(-time.Hour))
	w, err := New(Options{Inboxes: []Inbox{{Path: root}, {Path: filepath.Join(t.TempDir(), "missing")}}})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan Batch, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := w.Once(ctx, out); err != nil {
		t.Fatalf("Once() = %v, want nil", err)
	}
	if b := <-out; b.Folder != "f" {
		t.Errorf("batch folder = %q, want f", b.Folder)
	}
}
