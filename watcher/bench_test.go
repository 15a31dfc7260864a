package watcher

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// makeTree fills root with folders × files files older than any stable_for
// or settle used here.
func makeTree(tb testing.TB, root string, folders, files int) {
	tb.Helper()
	old := time.Now().Add(-24 * time.Hour)
	for i := range folders {
		dir := filepath.Join(root, fmt.Sprintf("applicant-%04d", i))
		for j := range files {
			write(tb, filepath.Join(dir, fmt.Sprintf("page-%02d.pdf", j)), []byte("%PDF-1.7 bench"), old)
		}
	}
}

// BenchmarkStartup1000Folders10000Files measures the time from Run to the
// last batch for 1,000 folders of 10 settled files each, with file events
// on (a watch per folder) and the real clock.
func BenchmarkStartup1000Folders10000Files(b *testing.B) {
	root := b.TempDir()
	makeTree(b, root, 1000, 10)
	var total time.Duration
	for b.Loop() {
		w, err := New(Options{
			Inboxes: []Inbox{{Path: root, StableFor: 5 * time.Second, Settle: 30 * time.Second}},
			Log:     zerolog.Nop(),
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		out := make(chan Batch, 64)
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- w.Run(ctx, out) }()
		files := 0
		for range 1000 {
			select {
			case bt := <-out:
				files += len(bt.Files)
			case <-time.After(time.Minute):
				b.Fatal("batches did not arrive")
			}
		}
		total += time.Since(start)
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		if files != 10000 {
			b.Fatalf("handed %d files, want 10000", files)
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/op")
}
