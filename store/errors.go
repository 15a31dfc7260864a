package store

import "errors"

var (
	// ErrLocked is returned by Open when another process (another flinkdrop)
	// holds the database file open.
	ErrLocked = errors.New("state database is locked by another process")
	// ErrCorrupt is returned by Open when the file is not a flinkdrop state
	// database or is damaged. The file is left untouched.
	ErrCorrupt = errors.New("state database is corrupt or not a flinkdrop database")
	// ErrNewerSchema is returned by Open when the database was written by a
	// newer flinkdrop whose schema this one does not know.
	ErrNewerSchema = errors.New("state database has a newer schema version")
	// ErrNotFound is returned when no session has the given id.
	ErrNotFound = errors.New("session not found")
	// ErrIllegalTransition is returned when a session or file state change is
	// not in the transition table; nothing is written.
	ErrIllegalTransition = errors.New("illegal state transition")
	// ErrReadOnly is returned by writing methods of a store opened with
	// OpenReadOnly.
	ErrReadOnly = errors.New("state database is open read-only")
)

// ErrTaken is returned by Create when one of the batch's paths already
// belongs to an unfinished session.
var ErrTaken = errors.New("path already belongs to an unfinished session")
