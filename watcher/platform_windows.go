//go:build windows

package watcher

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"

	"golang.org/x/sys/windows"
)

// rewatchOnRescan is off on Windows: adding a watch again reopens the folder
// and restarts its ReadDirectoryChangesW, which costs a round trip on a
// share and may drop events; a watch lost there is re-added when its folder
// is next seen as unwatched.
const rewatchOnRescan = false

// defaultProbe opens each file without sharing: a scanner or a copy that
// still holds the file open makes that fail with a sharing violation.
func defaultProbe() func(path string) error { return probeExclusive }

// probeExclusive opens path for reading with share mode 0 and closes it at
// once. A sharing or lock violation means another process has it open and is
// reported as ErrFileBusy.
func probeExclusive(path string) error {
	p, err := windows.UTF16PtrFromString(longPath(path))
	if err != nil {
		return fmt.Errorf("watcher: probe %s: %w", path, err)
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ, 0, nil,
		windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		if errors.Is(err, windows.ERROR_SHARING_VIOLATION) || errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
			return fmt.Errorf("watcher: probe %s: %w", path, ErrFileBusy)
		}
		return fmt.Errorf("watcher: probe %s: %w", path, err)
	}
	if err := windows.CloseHandle(h); err != nil {
		return fmt.Errorf("watcher: probe %s: close: %w", path, err)
	}
	return nil
}

// longPath gives an absolute path the \\?\ prefix once it nears MAX_PATH,
// since CreateFile, unlike package os, does not add it by itself.
func longPath(p string) string {
	if len(p) < 248 || strings.HasPrefix(p, `\\?\`) {
		return p
	}
	if strings.HasPrefix(p, `\\`) {
		return `\\?\UNC\` + p[2:]
	}
	return `\\?\` + p
}

// hiddenAttr reports the Windows hidden attribute.
func hiddenAttr(info fs.FileInfo) bool {
	if a, ok := info.Sys().(*syscall.Win32FileAttributeData); ok {
		return a.FileAttributes&windows.FILE_ATTRIBUTE_HIDDEN != 0
	}
	return false
}

// foldNames: NTFS names ignore case, so ignore globs do too.
const foldNames = true

// sameName compares two file names or paths as NTFS does: without case.
func sameName(a, b string) bool { return strings.EqualFold(a, b) }
