//go:build !windows

package report

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// syncDir flushes a folder's entries (a rename or a new file in it) to disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open folder %s for sync: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		// EINVAL/ENOTSUP: the file system cannot sync a folder; nothing
		// more can be done.
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// isCrossDevice reports whether a rename failed because source and
// destination are on different file systems.
func isCrossDevice(err error) bool {
	return errors.Is(err, syscall.EXDEV)
}

// platformHint names the fix for errors particular to this system.
func platformHint(err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return "the disk is full: free some space"
	case errors.Is(err, syscall.EROFS):
		return "the file system is read-only: mount it read-write"
	case errors.Is(err, syscall.ENOTDIR):
		return "a part of the path is a file, not a folder: fix the path in the config"
	}
	return ""
}
