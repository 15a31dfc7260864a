package report

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeFile creates path (and its folder) holding content, and returns the
// MoveItem for it.
func writeFile(t *testing.T, path, content string) MoveItem {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(content))
	return MoveItem{Src: path, Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:])}
}

// wantContent fails the test unless path holds content.
func wantContent(t *testing.T, path, content string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("read %s: %v", path, err)
		return
	}
	if string(got) != content {
		t.Errorf("%s holds %q, want %q", path, got, content)
	}
}

// wantGone fails the test if path exists.
func wantGone(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Lstat(%s) err = %v, want it gone", path, err)
	}
}

// crossDevice is a mover whose rename always fails as across file systems,
// counting its calls.
func crossDevice(calls *int) mover {
	return mover{rename: func(oldpath, newpath string) error {
		*calls++
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: syscall.EXDEV}
	}}
}

// paths runs moveFiles without a deadline and returns the destinations.
func (m mover) paths(items []MoveItem, destDir string) ([]string, error) {
	res, err := m.moveFiles(context.Background(), items, destDir)
	out := make([]string, len(res))
	for i, r := range res {
		out[i] = r.Dest
	}
	return out, err
}

func TestMoveFilesRename(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, filepath.Join(dir, "inbox", "s", "jan.pdf"), "january")
	b := writeFile(t, filepath.Join(dir, "inbox", "s", "feb.pdf"), "february")
	dest := filepath.Join(dir, "archive", "2026-01-02", "s__login")
	got, err := MoveFiles([]MoveItem{a, b}, dest)
	if err != nil {
		t.Fatalf("MoveFiles: %v", err)
	}
	want := []string{filepath.Join(dest, "jan.pdf"), filepath.Join(dest, "feb.pdf")}
	if !slices.Equal(got, want) {
		t.Errorf("MoveFiles = %q, want %q", got, want)
	}
	wantContent(t, want[0], "january")
	wantContent(t, want[1], "february")
	wantGone(t, a.Src)
	wantGone(t, b.Src)

	// Again, as after a crash right after the moves: nothing to do.
	again, err := MoveFiles([]MoveItem{a, b}, dest)
	if err != nil || !slices.Equal(again, want) {
		t.Errorf("MoveFiles again = %q, %v; want %q, nil", again, err, want)
	}
	if names := listDir(t, dest); len(names) != 2 {
		t.Errorf("destination holds %q, want 2 files", names)
	}
}

func TestMoveFilesCrossDevice(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, filepath.Join(dir, "in", "jan.pdf"), "january")
	mtime := time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)
	if err := os.Chtimes(a.Src, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "other-fs", "s__1")
	var calls int
	got, err := crossDevice(&calls).paths([]MoveItem{a}, dest)
	if err != nil {
		t.Fatalf("moveFiles (cross-device): %v", err)
	}
	if calls != 1 {
		t.Errorf("rename called %d times, want 1", calls)
	}
	final := filepath.Join(dest, "jan.pdf")
	if !slices.Equal(got, []string{final}) {
		t.Errorf("moveFiles = %q, want [%q]", got, final)
	}
	wantContent(t, final, "january")
	wantGone(t, a.Src)
	fi, err := os.Stat(final)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(mtime) {
		t.Errorf("copy mtime = %v, want the source's %v", fi.ModTime(), mtime)
	}
	if perm := fi.Mode().Perm(); perm != 0o640 {
		t.Errorf("copy permissions = %v, want the source's %v", perm, os.FileMode(0o640))
	}
	if names := listDir(t, dest); !slices.Equal(names, []string{"jan.pdf"}) {
		t.Errorf("destination holds %q, want only jan.pdf (no temporary file)", names)
	}
}

// TestMoveFilesResume runs MoveFiles over the states a crash can leave at
// each step of a move, with both the rename and the copy path.
func TestMoveFilesResume(t *testing.T) {
	tests := []struct {
		name string
		// setup makes the state left by the crash; it returns the item.
		setup       func(t *testing.T, src, dest string) MoveItem
		wantName    string // the file's final name in dest
		wantContent string
		wantErr     error
		wantFiles   []string // everything in dest afterwards
	}{
		{
			name: "temporary copy left behind",
			setup: func(t *testing.T, src, dest string) MoveItem {
				it := writeFile(t, src, "content")
				writeFile(t, filepath.Join(dest, tempPrefixFor("a.pdf")+"99.tmp"), "cont")
				return it
			},
			wantName: "a.pdf", wantContent: "content", wantFiles: []string{"a.pdf"},
		},
		{
			name: "copy complete, source not yet deleted",
			setup: func(t *testing.T, src, dest string) MoveItem {
				it := writeFile(t, src, "content")
				writeFile(t, filepath.Join(dest, "a.pdf"), "content")
				return it
			},
			wantName: "a.pdf", wantContent: "content", wantFiles: []string{"a.pdf"},
		},
		{
			name: "source already deleted",
			setup: func(t *testing.T, src, dest string) MoveItem {
				it := writeFile(t, src, "content")
				writeFile(t, filepath.Join(dest, "a.pdf"), "content")
				if err := os.Remove(src); err != nil {
					t.Fatal(err)
				}
				return it
			},
			wantName: "a.pdf", wantContent: "content", wantFiles: []string{"a.pdf"},
		},
		{
			name: "already moved under a numbered name",
			setup: func(t *testing.T, src, dest string) MoveItem {
				it := writeFile(t, src, "content")
				writeFile(t, filepath.Join(dest, "a.pdf"), "other")
				writeFile(t, filepath.Join(dest, "a (2).pdf"), "content")
				if err := os.Remove(src); err != nil {
					t.Fatal(err)
				}
				return it
			},
			wantName: "a (2).pdf", wantContent: "content", wantFiles: []string{"a (2).pdf", "a.pdf"},
		},
		{
			name: "name taken by other content",
			setup: func(t *testing.T, src, dest string) MoveItem {
				it := writeFile(t, src, "content")
				writeFile(t, filepath.Join(dest, "a.pdf"), "other")
				writeFile(t, filepath.Join(dest, "a (2).pdf"), "third")
				return it
			},
			wantName: "a (3).pdf", wantContent: "content", wantFiles: []string{"a (2).pdf", "a (3).pdf", "a.pdf"},
		},
		{
			name: "same size, other content",
			setup: func(t *testing.T, src, dest string) MoveItem {
				it := writeFile(t, src, "content")
				writeFile(t, filepath.Join(dest, "a.pdf"), "CONTENT")
				return it
			},
			wantName: "a (2).pdf", wantContent: "content", wantFiles: []string{"a (2).pdf", "a.pdf"},
		},
		{
			name: "gone from both places",
			setup: func(t *testing.T, src, dest string) MoveItem {
				it := writeFile(t, src, "content")
				if err := os.Remove(src); err != nil {
					t.Fatal(err)
				}
				return it
			},
			wantErr: ErrSourceMissing, wantFiles: nil,
		},
		{
			name: "gone, and the name holds other content",
			setup: func(t *testing.T, src, dest string) MoveItem {
				it := writeFile(t, src, "content")
				writeFile(t, filepath.Join(dest, "a.pdf"), "CONTENT")
				if err := os.Remove(src); err != nil {
					t.Fatal(err)
				}
				return it
			},
			wantErr: ErrSourceMissing, wantFiles: []string{"a.pdf"},
		},
	}
	for _, path := range []string{"rename", "copy"} {
		for _, tt := range tests {
			t.Run(path+"/"+tt.name, func(t *testing.T) {
				dir := t.TempDir()
				src := filepath.Join(dir, "inbox", "s", "a.pdf")
				dest := filepath.Join(dir, "archive", "s__1")
				if err := os.MkdirAll(dest, 0o755); err != nil {
					t.Fatal(err)
				}
				it := tt.setup(t, src, dest)
				m := mover{rename: os.Rename}
				var calls int
				if path == "copy" {
					m = crossDevice(&calls)
				}
				got, err := m.paths([]MoveItem{it}, dest)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("moveFiles = %q, %v; want error %v", got, err, tt.wantErr)
					}
				} else {
					if err != nil {
						t.Fatalf("moveFiles: %v", err)
					}
					final := filepath.Join(dest, tt.wantName)
					if !slices.Equal(got, []string{final}) {
						t.Errorf("moveFiles = %q, want [%q]", got, final)
					}
					wantContent(t, final, tt.wantContent)
					wantGone(t, src)
				}
				if names := listDir(t, dest); !slices.Equal(names, tt.wantFiles) {
					t.Errorf("destination holds %q, want %q", names, tt.wantFiles)
				}
			})
		}
	}
}

func TestMoveFilesInPlace(t *testing.T) {
	dir := t.TempDir()
	it := writeFile(t, filepath.Join(dir, "a.pdf"), "content")
	got, err := MoveFiles([]MoveItem{it}, dir)
	if err != nil {
		t.Fatalf("MoveFiles into its own folder: %v", err)
	}
	if !slices.Equal(got, []string{it.Src}) {
		t.Errorf("MoveFiles = %q, want [%q]", got, it.Src)
	}
	wantContent(t, it.Src, "content")
}

func TestMoveFilesRenameError(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, filepath.Join(dir, "in", "a.pdf"), "a")
	b := writeFile(t, filepath.Join(dir, "in", "b.pdf"), "b")
	dest := filepath.Join(dir, "out")
	boom := errors.New("device busy")
	m := mover{rename: func(oldpath, newpath string) error {
		if strings.HasSuffix(oldpath, "b.pdf") {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: boom}
		}
		return os.Rename(oldpath, newpath)
	}}
	got, err := m.paths([]MoveItem{a, b}, dest)
	if !errors.Is(err, boom) {
		t.Fatalf("moveFiles error = %v, want %v", err, boom)
	}
	if !strings.Contains(err.Error(), b.Src) {
		t.Errorf("moveFiles error = %q, want it to name %s", err, b.Src)
	}
	if want := []string{filepath.Join(dest, "a.pdf")}; !slices.Equal(got, want) {
		t.Errorf("moveFiles moved %q, want %q", got, want)
	}
	wantContent(t, b.Src, "b")
}

func TestMoveFilesDestIsFile(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, filepath.Join(dir, "in", "a.pdf"), "a")
	dest := filepath.Join(dir, "archive")
	if err := os.WriteFile(dest, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := MoveFiles([]MoveItem{a}, dest); err == nil || !strings.Contains(err.Error(), dest) {
		t.Errorf("MoveFiles into a file = %v, want an error naming %s", err, dest)
	}
	wantContent(t, a.Src, "a")
}

func TestCopyReport(t *testing.T) {
	dir := t.TempDir()
	rep := filepath.Join(dir, "outbox", "s__1.json")
	writeFile(t, rep, `{"session_id":"s"}`)
	dest := filepath.Join(dir, "archive", "s__1")
	for i := range 2 {
		if err := CopyReport(rep, dest); err != nil {
			t.Fatalf("CopyReport #%d: %v", i+1, err)
		}
	}
	if names := listDir(t, dest); !slices.Equal(names, []string{"s__1.json"}) {
		t.Errorf("destination holds %q after two copies, want one report", names)
	}
	wantContent(t, filepath.Join(dest, "s__1.json"), `{"session_id":"s"}`)
	wantContent(t, rep, `{"session_id":"s"}`)

	// Another report by that name: kept, the copy goes beside it.
	if err := os.WriteFile(rep, []byte(`{"session_id":"t"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CopyReport(rep, dest); err != nil {
		t.Fatalf("CopyReport over other content: %v", err)
	}
	wantContent(t, filepath.Join(dest, "s__1.json"), `{"session_id":"s"}`)
	wantContent(t, filepath.Join(dest, "s__1 (2).json"), `{"session_id":"t"}`)
	if err := CopyReport(rep, dest); err != nil {
		t.Fatalf("CopyReport again: %v", err)
	}
	if n := len(listDir(t, dest)); n != 2 {
		t.Errorf("destination holds %d files, want 2", n)
	}
	if err := CopyReport(filepath.Join(dir, "missing.json"), dest); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("CopyReport(missing) = %v, want ErrNotExist", err)
	}
}

func TestDeleteFiles(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, filepath.Join(dir, "a.pdf"), "a").Src
	b := writeFile(t, filepath.Join(dir, "b.pdf"), "b").Src
	full := filepath.Join(dir, "full")
	writeFile(t, filepath.Join(full, "x"), "x")
	if err := DeleteFiles([]string{a, filepath.Join(dir, "missing.pdf"), b}); err != nil {
		t.Errorf("DeleteFiles: %v", err)
	}
	wantGone(t, a)
	wantGone(t, b)
	c := writeFile(t, filepath.Join(dir, "c.pdf"), "c").Src
	err := DeleteFiles([]string{full, c})
	if err == nil || !strings.Contains(err.Error(), full) {
		t.Errorf("DeleteFiles(non-empty folder) = %v, want an error naming %s", err, full)
	}
	wantGone(t, c)
}

func TestRemoveEmptyDirs(t *testing.T) {
	tests := []struct {
		name     string
		make     []string // folders to create under root; a name ending in .pdf is a file
		dir      string   // under root
		stop     string   // under root
		wantErr  error
		wantLeft []string // what must still exist under root
		wantGone []string
	}{
		{"chain of empty folders", []string{"inbox/a/b/c"}, "inbox/a/b/c", "inbox", nil,
			[]string{"inbox"}, []string{"inbox/a"}},
		{"parent holds a file", []string{"inbox/a/b", "inbox/a/x.pdf"}, "inbox/a/b", "inbox", nil,
			[]string{"inbox/a/x.pdf"}, []string{"inbox/a/b"}},
		{"folder not empty", []string{"inbox/a/y.pdf"}, "inbox/a", "inbox", nil,
			[]string{"inbox/a/y.pdf"}, nil},
		{"folder is the stop folder", []string{"inbox"}, "inbox", "inbox", nil,
			[]string{"inbox"}, nil},
		{"already gone", []string{"inbox/a"}, "inbox/a/b", "inbox", nil,
			[]string{"inbox"}, []string{"inbox/a"}},
		{"outside", []string{"inbox", "other/a"}, "other/a", "inbox", ErrOutsideRoot,
			[]string{"other/a"}, nil},
		{"sibling with a common prefix", []string{"inbox", "inbox2/a"}, "inbox2/a", "inbox", ErrOutsideRoot,
			[]string{"inbox2/a"}, nil},
		{"parent of the stop folder", []string{"inbox"}, ".", "inbox", ErrOutsideRoot,
			[]string{"inbox"}, nil},
		{"dot-dot in the path", []string{"inbox/a", "x"}, "inbox/a/../../x", "inbox", ErrOutsideRoot,
			[]string{"x", "inbox/a"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			at := func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }
			for _, p := range tt.make {
				if strings.HasSuffix(p, ".pdf") {
					writeFile(t, at(p), "x")
				} else if err := os.MkdirAll(at(p), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			err := RemoveEmptyDirs(at(tt.dir), at(tt.stop)+string(filepath.Separator))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("RemoveEmptyDirs = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Errorf("RemoveEmptyDirs: %v", err)
			}
			for _, p := range tt.wantLeft {
				if _, err := os.Lstat(at(p)); err != nil {
					t.Errorf("%s: %v, want it kept", p, err)
				}
			}
			for _, p := range tt.wantGone {
				wantGone(t, at(p))
			}
		})
	}
}

func TestRemoveEmptyDirsSymlink(t *testing.T) {
	root := t.TempDir()
	target := filepath.Join(root, "elsewhere")
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "inbox", "link")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks not available: %v", err)
	}
	if err := RemoveEmptyDirs(link, filepath.Join(root, "inbox")); err != nil {
		t.Errorf("RemoveEmptyDirs(symlink): %v", err)
	}
	if _, err := os.Lstat(link); err != nil {
		t.Errorf("symlink: %v, want it left alone", err)
	}
	if _, err := os.Stat(target); err != nil {
		t.Errorf("symlink target: %v, want it left alone", err)
	}
}

func TestMoveFilesOddNames(t *testing.T) {
	dir := t.TempDir()
	names := []string{"relevé été.pdf", "no-extension", ".pdf", "a (2).pdf"}
	if filepath.Separator == '/' {
		names = append(names, `back\slash.pdf`, "colon:name.pdf")
	}
	var items []MoveItem
	for i, n := range names {
		items = append(items, writeFile(t, filepath.Join(dir, "in", n), fmt.Sprint("content ", i)))
	}
	dest := filepath.Join(dir, "out")
	got, err := MoveFiles(items, dest)
	if err != nil {
		t.Fatalf("MoveFiles: %v", err)
	}
	for i, n := range names {
		if want := filepath.Join(dest, n); got[i] != want {
			t.Errorf("MoveFiles moved %q to %q, want %q", n, got[i], want)
		}
		wantContent(t, got[i], fmt.Sprint("content ", i))
	}
	if _, err := MoveFiles([]MoveItem{{Src: dir + string(filepath.Separator) + ".."}}, dest); !errors.Is(err, ErrUnsafeName) {
		t.Errorf("MoveFiles(..) = %v, want ErrUnsafeName", err)
	}
}

func TestNumberedFile(t *testing.T) {
	tests := []struct {
		name string
		n    int
		want string
	}{
		{"a.pdf", 1, "a.pdf"}, {"a.pdf", 2, "a (2).pdf"}, {"a.tar.gz", 3, "a.tar (3).gz"},
		{"noext", 2, "noext (2)"}, {".pdf", 2, ".pdf (2)"},
	}
	for _, tt := range tests {
		if got := numberedFile(tt.name, tt.n); got != tt.want {
			t.Errorf("numberedFile(%q, %d) = %q, want %q", tt.name, tt.n, got, tt.want)
		}
	}
}

// rewrite replaces the content of path, keeping or setting its mtime.
func rewrite(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// verified returns the Verify item for the file at path as it is now.
func verified(t *testing.T, path, content string) MoveItem {
	t.Helper()
	it := writeFile(t, path, content)
	mtime := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	it.ModTime, it.Verify = mtime, true
	return it
}

// A Verify item that is no longer the file taken stays at its source, on
// both the rename and the copy path, and for DeleteFilesContext.
func TestMoveAndDeleteVerify(t *testing.T) {
	later := time.Date(2026, 3, 4, 6, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		change  func(t *testing.T, it MoveItem) // before the move
		want    string                          // in Changed; "" means moved
		content string                          // left at the source when changed
	}{
		{"unchanged", func(*testing.T, MoveItem) {}, "", ""},
		{"size", func(t *testing.T, it MoveItem) { rewrite(t, it.Src, "a longer january", it.ModTime) }, "size changed", "a longer january"},
		{"mtime and content", func(t *testing.T, it MoveItem) { rewrite(t, it.Src, "JANUARY", later) }, "SHA-256", "JANUARY"},
		{"touched only", func(t *testing.T, it MoveItem) { rewrite(t, it.Src, "january", later) }, "", ""},
		{"content", func(t *testing.T, it MoveItem) { rewrite(t, it.Src, "JANUARY", it.ModTime) }, "SHA-256", "JANUARY"},
		{"not a file", func(t *testing.T, it MoveItem) {
			if err := os.Remove(it.Src); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(it.Src, 0o755); err != nil {
				t.Fatal(err)
			}
		}, "regular file", ""},
	}
	for _, tt := range tests {
		for _, how := range []string{"rename", "copy", "delete"} {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				dir := t.TempDir()
				it := verified(t, filepath.Join(dir, "in", "jan.pdf"), "january")
				tt.change(t, it)
				dest := filepath.Join(dir, "out")
				var res []MoveResult
				var err error
				switch how {
				case "rename":
					res, err = MoveFilesContext(context.Background(), []MoveItem{it}, dest, Options{})
				case "copy":
					var calls int
					res, err = crossDevice(&calls).moveFiles(context.Background(), []MoveItem{it}, dest)
				case "delete":
					res, err = DeleteFilesContext(context.Background(), []MoveItem{it})
				}
				if err != nil {
					t.Fatalf("%s: %v", how, err)
				}
				if len(res) != 1 {
					t.Fatalf("%s returned %d results, want 1", how, len(res))
				}
				if !strings.Contains(res[0].Changed, tt.want) || (tt.want == "") != (res[0].Changed == "") {
					t.Errorf("%s: Changed = %q, want it to say %q", how, res[0].Changed, tt.want)
				}
				if tt.want == "" {
					wantGone(t, it.Src)
					if how != "delete" {
						wantContent(t, filepath.Join(dest, "jan.pdf"), "january")
					}
					return
				}
				if res[0].Dest != "" {
					t.Errorf("%s: Dest = %q for a file left in place", how, res[0].Dest)
				}
				if tt.content != "" {
					wantContent(t, it.Src, tt.content)
				} else if _, err := os.Lstat(it.Src); err != nil {
					t.Errorf("source gone: %v", err)
				}
				if how != "delete" {
					if names := listDir(t, dest); len(names) != 0 {
						t.Errorf("destination holds %q, want nothing", names)
					}
				}
			})
		}
	}
}

// On the copy path the source is checked again before it is deleted: a
// file rewritten during the copy (same size and mtime) is caught by the
// SHA-256 of the bytes copied; one rewritten after the copy stays, and the
// copy (the content taken) is kept.
func TestMoveCopyVerifiesSourceBeforeDelete(t *testing.T) {
	t.Run("during the copy", func(t *testing.T) {
		dir := t.TempDir()
		it := verified(t, filepath.Join(dir, "in", "jan.pdf"), "january")
		m := mover{rename: func(oldpath, newpath string) error {
			rewrite(t, it.Src, "JANUARY", it.ModTime) // after the check, before the copy
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: syscall.EXDEV}
		}}
		dest := filepath.Join(dir, "out")
		res, err := m.moveFiles(context.Background(), []MoveItem{it}, dest)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || !strings.Contains(res[0].Changed, "SHA-256") || res[0].Dest != "" {
			t.Errorf("result %+v, want changed (SHA-256), nothing placed", res)
		}
		wantContent(t, it.Src, "JANUARY")
		if names := listDir(t, dest); len(names) != 0 {
			t.Errorf("destination holds %q, want nothing", names)
		}
	})
	t.Run("after the copy", func(t *testing.T) {
		dir := t.TempDir()
		it := verified(t, filepath.Join(dir, "in", "jan.pdf"), "january")
		var calls int
		m := crossDevice(&calls)
		var points []string
		m.hook = func(p string) {
			points = append(points, p)
			rewrite(t, it.Src, "a new january", time.Now())
		}
		dest := filepath.Join(dir, "out")
		res, err := m.moveFiles(context.Background(), []MoveItem{it}, dest)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(points, []string{"move-copied"}) {
			t.Errorf("hook points %q, want [move-copied]", points)
		}
		final := filepath.Join(dest, "jan.pdf")
		if len(res) != 1 || res[0].Changed == "" || res[0].Dest != final {
			t.Errorf("result %+v, want changed with the copy kept at %s", res, final)
		}
		wantContent(t, final, "january")
		wantContent(t, it.Src, "a new january")
	})
}

// A cancelled ctx stops hashing and copying: the source stays, nothing is
// left in the destination, and a later call finishes the move.
func TestMoveFilesContextCancelled(t *testing.T) {
	big := strings.Repeat("x", 3*copyChunk)
	tests := []struct {
		name   string
		verify bool
		how    string
	}{
		{"copy", false, "copy"},
		{"verify hash", true, "rename"},
		{"delete verify hash", true, "delete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			it := verified(t, filepath.Join(dir, "in", "big.pdf"), big)
			it.Verify = tt.verify
			dest := filepath.Join(dir, "out")
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var calls int
			var err error
			switch tt.how {
			case "copy":
				_, err = crossDevice(&calls).moveFiles(ctx, []MoveItem{it}, dest)
			case "rename":
				_, err = MoveFilesContext(ctx, []MoveItem{it}, dest, Options{})
			case "delete":
				_, err = DeleteFilesContext(ctx, []MoveItem{it})
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			wantContent(t, it.Src, big)
			if tt.how == "delete" {
				return
			}
			if names := listDir(t, dest); len(names) != 0 {
				t.Errorf("destination holds %q after a cancelled move, want nothing", names)
			}
			if _, err := crossDevice(&calls).moveFiles(context.Background(), []MoveItem{it}, dest); err != nil {
				t.Fatalf("move after the cancel: %v", err)
			}
			wantContent(t, filepath.Join(dest, "big.pdf"), big)
			wantGone(t, it.Src)
		})
	}
}
