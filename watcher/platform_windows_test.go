//go:build windows

package watcher

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

func TestProbeExclusive(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
	}{
		{"short", filepath.Join(dir, "a.pdf")},
		{"long", filepath.Join(dir, strings.Repeat("d", 150), strings.Repeat("f", 150)+".pdf")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			write(t, tt.path, []byte("x"), time.Now())
			if err := probeExclusive(tt.path); err != nil {
				t.Fatalf("probeExclusive(closed file) = %v, want nil", err)
			}
			f, err := os.OpenFile(tt.path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			err = probeExclusive(tt.path)
			f.Close()
			if !errors.Is(err, ErrFileBusy) {
				t.Errorf("probeExclusive(open file) = %v, want ErrFileBusy", err)
			}
		})
	}
}

func TestHiddenAttributeSkipped(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	h := newHarness(t, harnessOpts{
		probe: func(string) error { return nil },
		setup: func(h *harness) {
			write(t, filepath.Join(h.root, "f", "shown.pdf"), []byte("s"), old)
			write(t, filepath.Join(h.root, "f", "hidden.pdf"), []byte("h"), old)
			write(t, filepath.Join(h.root, "hiddendir", "x.pdf"), []byte("x"), old)
			for _, p := range []string{filepath.Join(h.root, "f", "hidden.pdf"), filepath.Join(h.root, "hiddendir")} {
				u, err := windows.UTF16PtrFromString(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := windows.SetFileAttributes(u, windows.FILE_ATTRIBUTE_HIDDEN); err != nil {
					t.Fatal(err)
				}
			}
		},
	})
	got := byFolder(t, h.drain())
	if len(got) != 1 || !sameStrings(names(got["f"]), []string{"shown.pdf"}) {
		t.Errorf("got %v, want only f with [shown.pdf]", got)
	}
}
