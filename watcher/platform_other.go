//go:build !windows

package watcher

import "io/fs"

// defaultProbe is nil on Unix: there is no sharing violation to look for, so
// size and mtime stability is the whole test.
func defaultProbe() func(path string) error { return nil }

// hiddenAttr reports a hidden attribute; Unix has none beyond the leading dot.
func hiddenAttr(fs.FileInfo) bool { return false }

// sameName compares two file names or paths as the file system does.
func sameName(a, b string) bool { return a == b }
