package watcher

import "errors"

// ErrNoInboxes is returned by New when Options.Inboxes is empty: there is
// nothing to watch (add at least one entry under inboxes).
var ErrNoInboxes = errors.New("watcher: no inboxes configured")

// ErrBadInbox is returned (wrapped, with the inbox and the fix) by New when an
// inbox is unusable: a path that is empty or not absolute, an inbox inside
// another one, a malformed ignore glob or a negative duration.
var ErrBadInbox = errors.New("watcher: invalid inbox")

// ErrRunning is returned by Run and Once when the Watcher is already running:
// one Watcher serves one Run or Once at a time.
var ErrRunning = errors.New("watcher: already running")

// ErrFileBusy is returned (wrapped) by the default Windows probe when another
// process holds the file open, so it may still be written; the watcher tries
// the file again later.
var ErrFileBusy = errors.New("watcher: file is open in another process")
