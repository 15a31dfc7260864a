package watcher

import "time"

// Inbox is one watched inbox, as the watcher needs it.
type Inbox struct {
	// Path is the inbox root, absolute.
	Path string
	// Ignore holds extra globs (matched against the base name) to leave alone.
	Ignore []string
	// StableFor: a file counts as written once its size and mtime have been
	// unchanged this long. May be 0.
	StableFor time.Duration
	// Settle: a folder closes once nothing in it changed this long. May be 0.
	Settle time.Duration
	// ReadyMarker is a file name that closes its folder at once ("" = none).
	ReadyMarker string
	// RescanInterval is the period of the full rescan (0 = DefaultRescanInterval).
	RescanInterval time.Duration
	// Skip holds absolute folders under Path that are never walked, such as
	// an outbox, archive or failed folder placed inside the inbox. Added by
	// the watcher (issue 4); nil skips nothing.
	Skip []string
}

// File is one file of a batch, as it was when taken.
type File struct {
	// Path is absolute.
	Path    string
	Name    string
	Size    int64
	ModTime time.Time
}

// Batch is the files of one folder, complete and ready to become one session.
type Batch struct {
	// Inbox is the inbox root (Inbox.Path) the batch came from.
	Inbox string
	// Folder is the folder's path under the inbox with "/" separators;
	// "" for a file directly in the inbox root.
	Folder string
	// Dir is the absolute folder holding the files.
	Dir string
	// Files are sorted by name; never empty.
	Files []File
	// Marker is the absolute path of the ready marker that closed the
	// folder, "" if it closed by settling or is a root file.
	Marker string
	// FirstSeen is when the watcher first saw the earliest of Files (for a
	// report's times.first_seen). Added by the watcher (issue 4).
	FirstSeen time.Time
}

// Taken is asked, before a file is considered, whether a session already
// holds it; the pipeline implements it from its store. It is called from the
// watcher's goroutine while the pipeline runs, so it must be safe for
// concurrent use.
type Taken interface {
	Taken(path string) bool
}
