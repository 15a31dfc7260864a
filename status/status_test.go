package status

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/clock"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
)

func TestWriteReadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	want := Status{Version: "v1", PID: 42, StartedAt: now, UpdatedAt: now, Interval: Duration(time.Second),
		Counts: map[string]int{"uploading": 2}, Paused: true, PausedReason: "token: credentials (HTTP 401)",
		LastError: &Event{Time: now, Message: "boom"}}
	if err := Write(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.PID != want.PID || got.Counts["uploading"] != 2 || !got.Paused || got.PausedReason != want.PausedReason ||
		got.Interval != want.Interval || got.LastError == nil || got.LastError.Message != "boom" {
		t.Errorf("Read() = %+v, want %+v", got, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries after Write, want only %s", len(entries), FileName)
	}
}

func TestWriteIsGroupReadable(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permission bits")
	}
	path := filepath.Join(t.TempDir(), FileName)
	for i := range 2 { // created, then replaced
		if err := Write(path, Status{Version: "v1"}); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.Mode().Perm(), os.FileMode(FileMode); got != want {
			t.Errorf("write %d: mode %v, want %v (group-readable for status)", i+1, got, want)
		}
	}
}

func TestReadRejectsGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	os.WriteFile(path, []byte("{half"), 0o600)
	if _, err := Read(path); err == nil {
		t.Error("Read of a broken file succeeded")
	}
}

func TestStale(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	s := Status{UpdatedAt: now, Interval: Duration(2 * time.Second)}
	if s.Stale(now.Add(5 * time.Second)) {
		t.Error("fresh status reported stale")
	}
	if !s.Stale(now.Add(time.Minute)) {
		t.Error("minute-old status not reported stale")
	}
}

func TestWriterKeepsFileCurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	clk := clock.NewFake(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	n := 0
	w := &Writer{Path: path, Interval: time.Second, Clock: clk, Log: zerolog.Nop(),
		Collect: func() Status { n++; return Status{Counts: map[string]int{"n": n}} }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	clk.BlockUntil(1)
	clk.Advance(time.Second)
	testutil.WaitFor(t, 10*time.Second, "a second status write", func() bool { s, err := Read(path); return err == nil && s.Counts["n"] >= 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s, _ := Read(path)
	if s.Counts["n"] < 3 || !s.UpdatedAt.Equal(clk.Now()) {
		t.Errorf("after stop: counts %v updated %v, want a final write at %v", s.Counts, s.UpdatedAt, clk.Now())
	}
}
