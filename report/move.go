package report

import (
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
)

// MoveItem is one file to move: where it is, and its size and SHA-256 (hex)
// as they were when it was taken. SHA256 may be empty when unknown (a file
// rejected because it could not be read); then only the size is compared.
type MoveItem struct {
	Src    string
	Size   int64
	SHA256 string
}

// mover moves files; rename is os.Rename except in tests, which use it to
// force the cross-device copy on one file system.
type mover struct {
	rename func(oldpath, newpath string) error
}

// MoveFiles moves each item into destDir (created if needed) under its own
// name and returns the final paths, in the order of items.
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
	m := mover{rename: os.Rename}
	return m.moveFiles(items, destDir)
}

func (m mover) moveFiles(items []MoveItem, destDir string) ([]string, error) {
	if err := os.MkdirAll(destDir, 0o755); err != nil {
		return nil, fmt.Errorf("report: create folder %s: %w%s", destDir, err, hint(err))
	}
	moved := make([]string, 0, len(items))
	srcDirs := make(map[string]bool)
	for _, it := range items {
		p, err := m.moveOne(it, destDir)
		if err != nil {
			return moved, err
		}
		moved = append(moved, p)
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

// moveOne moves one file; see MoveFiles.
func (m mover) moveOne(it MoveItem, destDir string) (string, error) {
	name := filepath.Base(it.Src)
	if err := checkFileName(name); err != nil {
		return "", fmt.Errorf("report: move %q: %w", it.Src, err)
	}
	srcInfo, err := os.Lstat(it.Src)
	if errors.Is(err, fs.ErrNotExist) {
		return m.findMoved(it, name, destDir)
	}
	if err != nil {
		return "", fmt.Errorf("report: move %s: %w%s", it.Src, err, hint(err))
	}
	for n := 1; n <= maxNumbered; n++ {
		cand := filepath.Join(destDir, numberedFile(name, n))
		di, err := os.Lstat(cand)
		if errors.Is(err, fs.ErrNotExist) {
			if err := m.place(it.Src, srcInfo, cand, name); err != nil {
				return "", fmt.Errorf("report: move %s to %s: %w%s", it.Src, destDir, err, hint(err))
			}
			return cand, nil
		}
		if err != nil {
			return "", fmt.Errorf("report: move %s: check %s: %w%s", it.Src, cand, err, hint(err))
		}
		if os.SameFile(srcInfo, di) {
			// One file under two names (or already in place): drop the
			// source name unless it is the destination itself.
			if filepath.Clean(it.Src) != filepath.Clean(cand) {
				if err := removeFile(it.Src); err != nil {
					return "", fmt.Errorf("report: move %s: %w%s", it.Src, err, hint(err))
				}
			}
			return cand, nil
		}
		same, err := sameContent(it.Src, srcInfo, cand, di)
		if err != nil {
			return "", fmt.Errorf("report: move %s: compare with %s: %w%s", it.Src, cand, err, hint(err))
		}
		if same {
			// An earlier copy finished but the source was not deleted yet.
			if err := removeFile(it.Src); err != nil {
				return "", fmt.Errorf("report: move %s: %w%s", it.Src, err, hint(err))
			}
			return cand, nil
		}
	}
	return "", fmt.Errorf("report: move %s to %s: %w (clear out the destination folder)", it.Src, destDir, ErrTooManyNames)
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
func (m mover) findMoved(it MoveItem, name, destDir string) (string, error) {
	for n := 1; n <= maxNumbered; n++ {
		cand := filepath.Join(destDir, numberedFile(name, n))
		fi, err := os.Lstat(cand)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("report: move %s: check %s: %w%s", it.Src, cand, err, hint(err))
		}
		ok, err := matches(cand, fi, it.Size, it.SHA256)
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

// place moves src to the free name dst: a rename, or a copy when the rename
// crosses file systems.
func (m mover) place(src string, srcInfo fs.FileInfo, dst, name string) error {
	err := m.rename(src, dst)
	if err == nil {
		return nil
	}
	if !isCrossDevice(err) {
		return err
	}
	dir := filepath.Dir(dst)
	if err := copyNoReplace(src, srcInfo, dir, dst, tempPrefixFor(name)); err != nil {
		return err
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	return removeFile(src)
}

// copyNoReplace copies src to a temporary file in dir, syncs it, keeps the
// source's modification time and permissions, and gives it the name dst
// without replacing anything. Stale temporary files with the same prefix
// are removed first.
func copyNoReplace(src string, srcInfo fs.FileInfo, dir, dst, prefix string) error {
	if err := removeStaleTemps(dir, prefix); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := writeTemp(dir, prefix, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // gone already once placed
	// Best effort: the content is what matters.
	_ = os.Chmod(tmp, srcInfo.Mode().Perm())
	_ = os.Chtimes(tmp, srcInfo.ModTime(), srcInfo.ModTime())
	return placeNoReplace(tmp, dst)
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
func matches(path string, fi fs.FileInfo, size int64, sha string) (bool, error) {
	if !fi.Mode().IsRegular() || fi.Size() != size {
		return false, nil
	}
	if sha == "" {
		return true, nil
	}
	got, err := hashFile(path)
	if err != nil {
		return false, err
	}
	return strings.EqualFold(got, sha), nil
}

// sameContent reports whether two regular files hold the same bytes.
func sameContent(a string, ai fs.FileInfo, b string, bi fs.FileInfo) (bool, error) {
	if !ai.Mode().IsRegular() || !bi.Mode().IsRegular() || ai.Size() != bi.Size() {
		return false, nil
	}
	ha, err := hashFile(a)
	if err != nil {
		return false, err
	}
	hb, err := hashFile(b)
	if err != nil {
		return false, err
	}
	return ha == hb, nil
}

// hashFile returns the hex SHA-256 of a file's content.
func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
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
		err = copyNoReplace(reportPath, srcInfo, destDir, cand, tempPrefixFor(name))
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
	var errs []error
	for _, p := range paths {
		if err := removeFile(p); err != nil {
			errs = append(errs, fmt.Errorf("report: delete %s: %w%s", p, err, hint(err)))
		}
	}
	return errors.Join(errs...)
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
