//go:build windows

package report

import (
	"errors"
	"syscall"
)

// errNotSameDevice is ERROR_NOT_SAME_DEVICE: MoveFileEx without
// MOVEFILE_COPY_ALLOWED across volumes.
const errNotSameDevice syscall.Errno = 17

// syncDir does nothing on Windows: a folder cannot be opened for flushing
// there, and NTFS journals its metadata.
func syncDir(string) error { return nil }

// isCrossDevice reports whether a rename failed because source and
// destination are on different volumes.
func isCrossDevice(err error) bool {
	return errors.Is(err, errNotSameDevice) || errors.Is(err, syscall.EXDEV)
}

// Windows error codes named in hints.
const (
	errHandleDiskFull syscall.Errno = 39  // ERROR_HANDLE_DISK_FULL
	errDiskFull       syscall.Errno = 112 // ERROR_DISK_FULL
	errWriteProtect   syscall.Errno = 19  // ERROR_WRITE_PROTECT
)

// platformHint names the fix for errors particular to this system.
func platformHint(err error) string {
	switch {
	case errors.Is(err, errDiskFull), errors.Is(err, errHandleDiskFull):
		return "the disk is full: free some space"
	case errors.Is(err, errWriteProtect):
		return "the volume is write-protected: make it writable"
	}
	return ""
}
