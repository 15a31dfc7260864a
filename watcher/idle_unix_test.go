//go:build unix

package watcher

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestIdleCPU measures the CPU an idle watcher over 1,000 folders (10,000
// files, all handed over) uses, as a percent of one core. It is a
// measurement, not a check, so it runs only when asked:
//
//	FLINKDROP_IDLE_CPU=1 [FLINKDROP_IDLE_RESCAN=60s] [FLINKDROP_IDLE_FOR=10s] go test -run=TestIdleCPU -v ./watcher
func TestIdleCPU(t *testing.T) {
	if os.Getenv("FLINKDROP_IDLE_CPU") == "" {
		t.Skip("set FLINKDROP_IDLE_CPU=1 to measure idle CPU")
	}
	rescan := envDuration(t, "FLINKDROP_IDLE_RESCAN", 60*time.Second)
	window := envDuration(t, "FLINKDROP_IDLE_FOR", 10*time.Second)
	root := t.TempDir()
	makeTree(t, root, 1000, 10)
	w, err := New(Options{
		Inboxes: []Inbox{{Path: root, StableFor: 5 * time.Second, Settle: 30 * time.Second, RescanInterval: rescan}},
		Log:     zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Batch, 1000)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, out) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
	}()
	for range 1000 {
		select {
		case <-out:
		case <-time.After(time.Minute):
			t.Fatal("startup batches did not arrive")
		}
	}
	before := cpuTime(t)
	time.Sleep(window) // the measurement window itself, not a wait for a condition
	used := cpuTime(t) - before
	t.Logf("idle over 1000 folders, rescan every %v: %v CPU in %v = %.3f%% of a core",
		rescan, used, window, 100*used.Seconds()/window.Seconds())
	select {
	case b := <-out:
		t.Errorf("idle watcher handed over folder %q again", b.Folder)
	default:
	}
}

func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s=%q: %v (use a Go duration such as 10s)", name, v, err)
	}
	return d
}
