package testutil

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got, want := b.String(), strings.Repeat("x", 800); got != want {
		t.Errorf("after 8×100 writes the buffer holds %d bytes, want %d", len(got), len(want))
	}
}

func TestWaitForSeesACondition(t *testing.T) {
	var mu sync.Mutex
	done := false
	go func() {
		time.Sleep(10 * time.Millisecond)
		mu.Lock()
		done = true
		mu.Unlock()
	}()
	WaitFor(t, 10*time.Second, "the flag", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return done
	})
}

func TestWriteFilesListFilesReadFile(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{"b/c.txt": []byte("c"), "a.txt": []byte("a"), "b/d/e.txt": []byte("e")}
	WriteFiles(t, dir, files)
	WriteFile(t, filepath.Join(dir, "f.txt"), []byte("f"))
	got := ListFiles(t, dir)
	want := []string{"a.txt", "b/c.txt", "b/d/e.txt", "f.txt"}
	if !slices.Equal(got, want) {
		t.Errorf("ListFiles = %v, want %v", got, want)
	}
	for name, data := range files {
		if got := ReadFile(t, filepath.Join(dir, filepath.FromSlash(name))); string(got) != string(data) {
			t.Errorf("ReadFile(%s) = %q, want %q", name, got, data)
		}
	}
}
