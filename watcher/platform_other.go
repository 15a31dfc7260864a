//go:build !windows

package watcher

import "io/fs"

// rewatchOnRescan: a full rescan adds every folder's watch again. With
// inotify that is one cheap call per folder, and it heals a watch lost when
// a folder renamed under us shared its inode with the old name's watch.
const rewatchOnRescan = true

// defaultProbe is nil on Unix: there is no sharing violation to look for, so
// size and mtime stability is the whole test.
func defaultProbe() func(path string) error { return nil }

// hiddenAttr reports a hidden attribute; Unix has none beyond the leading dot.
func hiddenAttr(fs.FileInfo) bool { return false }

// foldNames: Unix file names are case-sensitive, so ignore globs are too.
const foldNames = false

// sameName compares two file names or paths as the file system does.
func sameName(a, b string) bool { return a == b }
