package report

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MoveItem is one file to move: where it is, and its size and SHA-256 (hex)
// as they were when it was taken. SHA256 may be empty when unknown (a file
// rejected because it could not be read); then only the size is compared.
type MoveItem struct {
	Src    string
	Size   int64
	SHA256 string
	// ModTime is the file's modification time when it was taken; it is
	// compared only when Verify is set.
	ModTime time.Time
	// Verify leaves the file where it is unless it still is the file
	// described: same size and ModTime, then (when SHA256 is set) the same
	// SHA-256. A file uploaded and then overwritten under the same name is
	// new content that was never sent: it must not be archived or deleted.
	Verify bool
}

// MoveResult is what became of one MoveItem.
type MoveResult struct {
	// Dest is the file's path in the destination folder; empty when
	// nothing was placed there (a file left in place, or deleted).
	Dest string
	// Changed says why a Verify item was left at its source, "" when it was
	// moved or deleted. A cross-device copy that found the source changed
	// after copying it keeps the copy (Dest is set): it holds the content
	// as it was taken.
	Changed string
}

// Options tune Write, MoveFilesContext and DeleteFilesContext. The zero
// value is the default.
type Options struct {
	// Hook, when set, is called at named points, for crash tests:
	// "report-temp-written" (Write: the temporary file is written and
	// synced, not yet given its name) and "move-copied" (a cross-device
	// copy is in place and synced, its source not yet deleted).
	Hook func(point string)
	// Rename replaces os.Rename for moves; nil means os.Rename. Tests use
	// it to take the cross-device copy path on one file system.
	Rename func(oldpath, newpath string) error
}

func (o Options) hook(point string) {
	if o.Hook != nil {
		o.Hook(point)
	}
}

// mover moves files; rename is os.Rename except in tests, which use it to
// force the cross-device copy on one file system.
type mover struct {
	rename func(oldpath, newpath string) error
	hook   func(point string)
}

func newMover(opts Options) mover {
	m := mover{rename: opts.Rename, hook: opts.hook}
	if m.rename == nil {
		m.rename = os.Rename
	}
	return m
}

// MoveFiles moves each item into destDir (created if needed) under its own
// name and returns the final paths, in the order of items; a Verify item
// left in place (see MoveFilesContext) has an empty path.
//
// A file is renamed; when that fails because destDir is on another file
// system, it is copied to a hidden temporary file in destDir, synced, given
// its final name, and only then is the source deleted. Folders are synced
// before MoveFiles returns.
//
// MoveFiles never replaces a file: if destDir already holds a different file
// of that name, the file becomes "name (2).ext", "name (3).ext"… It is safe
// to call again after a crash at any point:
//   - source gone and a destination candidate of the same size and SHA-256
//     present: already moved, its path is returned;
//   - source and a destination candidate with the same content both present:
//     the copy had finished, the source is deleted;
//   - a temporary file left by an interrupted copy is removed and the copy
//     starts over.
//
// It stops at the first file it cannot move and returns the paths moved so
// far with the error.
func MoveFiles(items []MoveItem, destDir string) ([]string, error) {
	res, err := newMover(Options{}).moveFiles(context.Background(), items, destDir)
	paths := make([]string, len(res))
	for i, r := range res {
		if r.Changed == "" {
			paths[i] = r.Dest
		}
	}
	return paths, err
}

// MoveFilesContext is MoveFiles that stops when ctx is done (between chunks
// of a hash or a copy; an interrupted copy leaves its temporary file, which
// the next call removes), and that checks each Verify item first: a file
// that is no longer as described is left in place and its result says why.
// It returns a result per item handled, in the order of items.
func MoveFilesContext(ctx context.Context, items []MoveItem, destDir string, opts Options) ([]MoveResult, error) {
	return newMover(opts).moveFiles(ctx, items, destDir)
}

func (m mover) moveFiles(ctx context.Context, items []MoveItem, destDir string) ([]MoveResult, error) {
	if err := os.MkdirAll(destDir, 0o755); err != nil {
		return nil, fmt.Errorf("report: create folder %s: %w%s", destDir, err, hint(err))
	}
	moved := make([]MoveResult, 0, len(items))
	srcDirs := make(map[string]bool)
	for _, it := range items {
		r, err := m.moveOne(ctx, it, destDir)
		if err != nil {
			return moved, err
		}
		moved = append(moved, r)
		srcDirs[filepath.Dir(it.Src)] = true
	}
	// A copy interrupted on an earlier run may have left its temporary file
	// even if this run could rename.
	if err := removeStaleTempsFor(destDir, items); err != nil {
		return moved, fmt.Errorf("report: move files to %s: %w", destDir, err)
	}
	if err := syncDir(destDir); err != nil {
		return moved, fmt.Errorf("report: move files to %s: %w", destDir, err)
	}
	for dir := range srcDirs {
		if err := syncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return moved, fmt.Errorf("report: move files from %s: %w", dir, err)
		}
	}
	return moved, nil
}

// changedFile says how the file at it.Src (with info fi) differs from the
// item ("" when it does not): size and modification time first, then the
// SHA-256 when the item has one.
func changedFile(ctx context.Context, it MoveItem, fi fs.FileInfo) (string, error) {
	switch {
	case !fi.Mode().IsRegular():
		return "it is no longer a regular file", nil
	case fi.Size() != it.Size:
		return fmt.Sprintf("its size changed (%d bytes taken, %d now)", it.Size, fi.Size()), nil
	case it.SHA256 == "" && !fi.ModTime().Equal(it.ModTime):
		return fmt.Sprintf("its modification time changed (%s taken, %s now)",
			it.ModTime.Format(time.RFC3339Nano), fi.ModTime().Format(time.RFC3339Nano)), nil
	case it.SHA256 == "":
		return "", nil
	}
	// Same size: the content decides, whatever the mtime says. A file only
	// touched (antivirus, backup tools) is still the file uploaded, and
	// leaving it would upload it again as a new session.
	got, err := HashFile(ctx, it.Src)
	if err != nil {
		return "", err
	}
	if !strings.EqualFold(got, it.SHA256) {
		return "its content changed (SHA-256 differs)", nil
	}
	return "", nil
}

// errChanged is returned by place when a Verify item's source changed
// while it was copied;
// placed tells that the copy, holding the content taken, is in place.
type errChanged struct {
	why    string
	placed bool
}

func (e *errChanged) Error() string { return e.why }

// moveOne moves one file; see MoveFiles.
func (m mover) moveOne(ctx context.Context, it MoveItem, destDir string) (MoveResult, error) {
	name := filepath.Base(it.Src)
	if err := checkFileName(name); err != nil {
		return MoveResult{}, fmt.Errorf("report: move %q: %w", it.Src, err)
	}
	srcInfo, err := os.Lstat(it.Src)
	if errors.Is(err, fs.ErrNotExist) {
		p, err := m.findMoved(ctx, it, name, destDir)
		return MoveResult{Dest: p}, err
	}
	if err != nil {
		return MoveResult{}, fmt.Errorf("report: move %s: %w%s", it.Src, err, hint(err))
	}
	if it.Verify {
		why, err := changedFile(ctx, it, srcInfo)
		if err != nil {
			return MoveResult{}, fmt.Errorf("report: move %s: check it is the file taken: %w%s", it.Src, err, hint(err))
		}
		if why != "" {
			return MoveResult{Changed: why}, nil
		}
	}
	for n := 1; n <= maxNumbered; n++ {
		cand := filepath.Join(destDir, numberedFile(name, n))
		di, err := os.Lstat(cand)
		if errors.Is(err, fs.ErrNotExist) {
			err := m.place(ctx, it, srcInfo, cand, name)
			var ce *errChanged
			if errors.As(err, &ce) {
				r := MoveResult{Changed: ce.why}
				if ce.placed {
					r.Dest = cand
				}
				return r, nil
			}
			if err != nil {
				return MoveResult{}, fmt.Errorf("report: move %s to %s: %w%s", it.Src, destDir, err, hint(err))
			}
			return MoveResult{Dest: cand}, nil
		}
		if err != nil {
			return MoveResult{}, fmt.Errorf("report: move %s: check %s: %w%s", it.Src, cand, err, hint(err))
		}
		if os.SameFile(srcInfo, di) {
			// One file under two names (or already in place): drop the
			// source name unless it is the destination itself.
			if filepath.Clean(it.Src) != filepath.Clean(cand) {
				if err := removeFile(it.Src); err != nil {
					return MoveResult{}, fmt.Errorf("report: move %s: %w%s", it.Src, err, hint(err))
				}
			}
			return MoveResult{Dest: cand}, nil
		}
		var same bool
		if it.Verify && it.SHA256 != "" {
			// The source was just checked against the item: compare the
			// candidate with the item, hashing one file instead of two.
			same, err = matches(ctx, cand, di, it.Size, it.SHA256)
		} else {
			same, err = sameContent(ctx, it.Src, srcInfo, cand, di)
		}
		if err != nil {
			return MoveResult{}, fmt.Errorf("report: move %s: compare with %s: %w%s", it.Src, cand, err, hint(err))
		}
		if same {
			// An earlier copy finished but the source was not deleted yet.
			if err := removeFile(it.Src); err != nil {
				return MoveResult{}, fmt.Errorf("report: move %s: %w%s", it.Src, err, hint(err))
			}
			return MoveResult{Dest: cand}, nil
		}
	}
	return MoveResult{}, fmt.Errorf("report: move %s to %s: %w (clear out the destination folder)", it.Src, destDir, ErrTooManyNames)
}

// checkFileName returns ErrUnsafeName unless name, the last element of a
// path on this system, names a file: a source file is kept under its own
// name even where it holds characters SafeName would replace (a backslash
// is an ordinary character on Linux).
func checkFileName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, filepath.Separator) {
		return ErrUnsafeName
	}
	return nil
}

// removeStaleTempsFor removes the temporary files in dir left by copies of
// the items.
func removeStaleTempsFor(dir string, items []MoveItem) error {
	prefixes := make(map[string]bool, len(items))
	for _, it := range items {
		prefixes[tempPrefixFor(filepath.Base(it.Src))] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, tempPrefix) || !strings.HasSuffix(n, ".tmp") || !e.Type().IsRegular() {
			continue
		}
		if len(n) < len(tempPrefixFor("")) || !prefixes[n[:len(tempPrefixFor(""))]] {
			continue
		}
		if err := removeFile(filepath.Join(dir, n)); err != nil {
			return fmt.Errorf("remove stale temporary file %s: %w", n, err)
		}
	}
	return nil
}

// findMoved looks for the already moved copy of a file whose source is gone:
// the first candidate name that matches the item's size and SHA-256. The
// candidates are taken in order and the search stops at the first free name,
// since MoveFiles fills them in order.
func (m mover) findMoved(ctx context.Context, it MoveItem, name, destDir string) (string, error) {
	for n := 1; n <= maxNumbered; n++ {
		cand := filepath.Join(destDir, numberedFile(name, n))
		fi, err := os.Lstat(cand)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("report: move %s: check %s: %w%s", it.Src, cand, err, hint(err))
		}
		ok, err := matches(ctx, cand, fi, it.Size, it.SHA256)
		if err != nil {
			return "", fmt.Errorf("report: move %s: check %s: %w%s", it.Src, cand, err, hint(err))
		}
		if ok {
			return cand, nil
		}
	}
	return "", fmt.Errorf("report: move %s to %s: %w (it was removed or renamed by someone else; look for it before resuming)",
		it.Src, destDir, ErrSourceMissing)
}

// place moves the item's source to the free name dst: a rename, or a copy
// when the rename crosses file systems. A Verify item whose source changed
// while it was copied is left in place (*errChanged).
func (m mover) place(ctx context.Context, it MoveItem, srcInfo fs.FileInfo, dst, name string) error {
	err := m.rename(it.Src, dst)
	if err == nil {
		return nil
	}
	if !isCrossDevice(err) {
		return err
	}
	dir := filepath.Dir(dst)
	want := ""
	if it.Verify {
		want = it.SHA256
	}
	if err := copyNoReplace(ctx, it.Src, srcInfo, dir, dst, tempPrefixFor(name), want); err != nil {
		return err
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	if m.hook != nil {
		m.hook("move-copied")
	}
	if it.Verify {
		// The copy holds the content taken; the source may have been
		// rewritten meanwhile, and then it stays.
		fi, err := os.Lstat(it.Src)
		if err != nil {
			return err
		}
		if why, _ := changedFile(ctx, MoveItem{Size: srcInfo.Size(), ModTime: srcInfo.ModTime()}, fi); why != "" {
			return &errChanged{why: why + " while it was copied", placed: true}
		}
	}
	return removeFile(it.Src)
}

// copyNoReplace copies src to a temporary file in dir, syncs it, keeps the
// source's modification time and permissions, and gives it the name dst
// without replacing anything. Stale temporary files with the same prefix
// are removed first. When wantSHA is set and the bytes read do not have
// that SHA-256, nothing is placed and the error is *errChanged. It stops
// between chunks when ctx is done, removing its temporary file.
func copyNoReplace(ctx context.Context, src string, srcInfo fs.FileInfo, dir, dst, prefix, wantSHA string) error {
	if err := removeStaleTemps(dir, prefix); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	h := sha256.New()
	tmp, err := writeTemp(dir, prefix, func(w io.Writer) error {
		if wantSHA != "" {
			w = io.MultiWriter(w, h)
		}
		_, err := copyContext(ctx, w, in)
		return err
	})
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // gone already once placed
	if wantSHA != "" && !strings.EqualFold(hex.EncodeToString(h.Sum(nil)), wantSHA) {
		return &errChanged{why: "its content changed (SHA-256 differs)"}
	}
	// Best effort: the content is what matters.
	_ = os.Chmod(tmp, srcInfo.Mode().Perm())
	_ = os.Chtimes(tmp, srcInfo.ModTime(), srcInfo.ModTime())
	return placeNoReplace(tmp, dst)
}

// copyChunk is the size of the chunks read between checks of ctx.
const copyChunk = 1 << 20

// copyContext copies src to dst in chunks, stopping with ctx's error when
// ctx is done.
func copyContext(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, copyChunk)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		r, rerr := src.Read(buf)
		if r > 0 {
			w, werr := dst.Write(buf[:r])
			n += int64(w)
			if werr != nil {
				return n, werr
			}
			if w != r {
				return n, io.ErrShortWrite
			}
		}
		if errors.Is(rerr, io.EOF) {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// numberedFile returns name for n = 1 and "stem (n).ext" after.
func numberedFile(name string, n int) string {
	if n == 1 {
		return name
	}
	ext := filepath.Ext(name)
	if ext == name {
		ext = "" // ".profile": all name, no extension
	}
	return strings.TrimSuffix(name, ext) + " (" + strconv.Itoa(n) + ")" + ext
}

// matches reports whether the regular file path (with info fi) has the
// given size and, when sha is not empty, SHA-256.
func matches(ctx context.Context, path string, fi fs.FileInfo, size int64, sha string) (bool, error) {
	if !fi.Mode().IsRegular() || fi.Size() != size {
		return false, nil
	}
	if sha == "" {
		return true, nil
	}
	got, err := HashFile(ctx, path)
	if err != nil {
		return false, err
	}
	return strings.EqualFold(got, sha), nil
}

// sameContent reports whether two regular files hold the same bytes.
func sameContent(ctx context.Context, a string, ai fs.FileInfo, b string, bi fs.FileInfo) (bool, error) {
	if !ai.Mode().IsRegular() || !bi.Mode().IsRegular() || ai.Size() != bi.Size() {
		return false, nil
	}
	ha, err := HashFile(ctx, a)
	if err != nil {
		return false, err
	}
	hb, err := HashFile(ctx, b)
	if err != nil {
		return false, err
	}
	return ha == hb, nil
}

// HashFile returns the hex SHA-256 of a file's content; it stops between
// chunks when ctx is done, so a stop is not held up by a large file on a
// slow share.
func HashFile(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := copyContext(ctx, h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// removeFile removes path; a path already gone is fine.
func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// CopyReport copies the report at reportPath into destDir (created if
// needed) under its own name, atomically (temporary file, sync, then the
// final name). If destDir already holds that name with the same content,
// there is nothing to do; with other content, the copy is named
// "name (2).json" and so on, never replacing a file.
func CopyReport(reportPath, destDir string) error {
	name := filepath.Base(reportPath)
	if err := checkFileName(name); err != nil {
		return fmt.Errorf("report: copy report %q: %w", reportPath, err)
	}
	data, err := os.ReadFile(reportPath)
	if err != nil {
		return fmt.Errorf("report: copy report %s: %w%s", reportPath, err, hint(err))
	}
	srcInfo, err := os.Stat(reportPath)
	if err != nil {
		return fmt.Errorf("report: copy report %s: %w%s", reportPath, err, hint(err))
	}
	if err := os.MkdirAll(destDir, 0o755); err != nil {
		return fmt.Errorf("report: create folder %s: %w%s", destDir, err, hint(err))
	}
	for n := 1; n <= maxNumbered; n++ {
		cand := filepath.Join(destDir, numberedFile(name, n))
		fi, err := os.Lstat(cand)
		if err == nil {
			if !fi.Mode().IsRegular() {
				continue
			}
			same, err := sameBytes(cand, data)
			if err != nil {
				return fmt.Errorf("report: copy report to %s: read %s: %w%s", destDir, cand, err, hint(err))
			}
			if same {
				return syncDirErr(destDir)
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("report: copy report to %s: check %s: %w%s", destDir, cand, err, hint(err))
		}
		err = copyNoReplace(context.Background(), reportPath, srcInfo, destDir, cand, tempPrefixFor(name), "")
		if errors.Is(err, fs.ErrExist) {
			n-- // someone took the name meanwhile: look at it again
			continue
		}
		if err != nil {
			return fmt.Errorf("report: copy report %s to %s: %w%s", reportPath, destDir, err, hint(err))
		}
		return syncDirErr(destDir)
	}
	return fmt.Errorf("report: copy report %s to %s: %w (clear out the destination folder)", reportPath, destDir, ErrTooManyNames)
}

// syncDirErr syncs dir and wraps a failure.
func syncDirErr(dir string) error {
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// DeleteFiles removes each path; a path already gone is fine. It tries every
// path and returns the failures together.
func DeleteFiles(paths []string) error {
	items := make([]MoveItem, len(paths))
	for i, p := range paths {
		items[i] = MoveItem{Src: p}
	}
	_, err := DeleteFilesContext(context.Background(), items)
	return err
}

// DeleteFilesContext removes each item's file; a file already gone is fine.
// A Verify item that is no longer as described (see MoveItem) is left in
// place, and its result says why. It tries every item, returns a result per
// item and the failures together; it stops when ctx is done.
func DeleteFilesContext(ctx context.Context, items []MoveItem) ([]MoveResult, error) {
	res := make([]MoveResult, len(items))
	var errs []error
	for i, it := range items {
		if it.Verify {
			fi, err := os.Lstat(it.Src)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err == nil {
				res[i].Changed, err = changedFile(ctx, it, fi)
			}
			if err != nil {
				if ctx.Err() != nil {
					return res, fmt.Errorf("report: delete %s: %w", it.Src, ctx.Err())
				}
				errs = append(errs, fmt.Errorf("report: delete %s: check it is the file taken: %w%s", it.Src, err, hint(err)))
				continue
			}
			if res[i].Changed != "" {
				continue
			}
		}
		if err := removeFile(it.Src); err != nil {
			errs = append(errs, fmt.Errorf("report: delete %s: %w%s", it.Src, err, hint(err)))
		}
	}
	return res, errors.Join(errs...)
}

// RemoveEmptyDirs removes dir if it is empty, then each parent that became
// empty, stopping below stopAt: stopAt itself and anything outside it are
// never removed. A folder that is not empty (even if it only holds files we
// ignore, such as Thumbs.db) is left in place without error; so is a
// symbolic link. dir equal to stopAt does nothing; dir outside stopAt is
// ErrOutsideRoot.
func RemoveEmptyDirs(dir, stopAt string) error {
	dir = filepath.Clean(dir)
	stop := filepath.Clean(stopAt)
	rel, err := filepath.Rel(stop, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return fmt.Errorf("report: remove empty folder %s: %w %s", dir, ErrOutsideRoot, stop)
	}
	if rel == "." {
		return nil
	}
	levels := len(strings.Split(rel, string(filepath.Separator)))
	for range levels {
		fi, err := os.Lstat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Already gone: look at the parent.
		case err != nil:
			return fmt.Errorf("report: remove empty folder %s: %w%s", dir, err, hint(err))
		case !fi.IsDir():
			return nil
		default:
			empty, err := isEmptyDir(dir)
			if err != nil {
				return fmt.Errorf("report: remove empty folder %s: %w%s", dir, err, hint(err))
			}
			if !empty {
				return nil
			}
			if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
				if empty, _ := isEmptyDir(dir); !empty {
					return nil // something arrived meanwhile
				}
				return fmt.Errorf("report: remove empty folder %s: %w%s", dir, err, hint(err))
			}
		}
		dir = filepath.Dir(dir)
	}
	return nil
}

// isEmptyDir reports whether the folder dir has no entries.
func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return len(names) == 0, nil
}
