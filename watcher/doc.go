// Package watcher turns inbox folders into batches of complete files: one
// batch per folder, taken once every file is stable and the folder has
// settled or shown its ready marker.
//
// How it decides (SPEC §4):
//
//   - Finding files. A full rescan (ReadDir and Lstat, no hashing) runs at
//     start, every rescan interval, after any fsnotify error or overflow, and
//     on Rescan; it alone finds everything. fsnotify watches every folder
//     (added before the folder is read); an event schedules a scan of its
//     folder 100 ms later, merged with others. A folder that needs another
//     look (files not yet stable, settle pending) gets a timer; an idle
//     watcher has only the rescan timer.
//   - Stable. A file is stable once a scan finds it with the size and mtime
//     it had stable_for earlier; a file found with its folder (the first scan
//     of that folder: at start, or a folder created or moved in) whose mtime
//     is already older than stable_for is stable at once. A file turning up
//     later in a known folder always gets its second look, since a copy that
//     keeps its source's old mtime may still be growing. Then Probe must accept it
//     (Windows: it opens without a sharing violation). A file that keeps
//     changing is looked at again, never dropped.
//   - Closing a folder. With every waiting file stable, a folder closes when
//     an unused ready marker is present (the marker is Batch.Marker, never a
//     File; the marker that closed one batch does not close the next unless
//     it is rewritten), or when nothing changed in it for settle. Changes are
//     a new file, a size or mtime change and a removal, timed when seen; for
//     a folder seen for the first time (at start, or created or renamed in)
//     the newest of its own mtime and its files' mtimes is used instead, so a
//     folder long in place closes at once while one still being filled (its
//     mtime is recent even when the copied files keep old mtimes) waits.
//   - Root files are batches of one file (Folder ""). stable_for and the
//     probe apply to them; settle and the marker do not.
//   - Never twice. Handed-over files are remembered by name, size and mtime
//     until they leave their folder, and Taken is asked before a file is
//     considered, so neither a rescan nor a restart hands a file again while
//     a session holds it. A file that leaves and comes back, or changes after
//     the hand-over while no session holds it, is a new file.
//   - Offered again. A handed-over file still in place with the same size
//     and mtime that Taken says no session holds is put back among the
//     folder's waiting files (already stable) by a full rescan once the
//     grace has passed since the pipeline received it: the larger of the
//     rescan interval and twice stable_for plus 5 s. That recovers a batch
//     the pipeline dropped (it could not persist it) and a file a finished
//     session left in place. A folder's files offered again, with any new
//     ones, close by the usual rules; the marker that closed the dropped
//     batch closes the new one too. Not in Once, nor without Taken.
//   - Skipped: names starting with ".", "~$*", "*.tmp", "*.part",
//     "Thumbs.db", "desktop.ini" (any case), the ready marker, the inbox's
//     Ignore globs (on the base name; on Windows without case), files and folders with the Windows
//     hidden attribute, folders starting with ".", Inbox.Skip folders,
//     symbolic links and other non-regular entries (logged once each).
package watcher
