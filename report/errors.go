package report

import "errors"

// ErrUnsafeName is returned by Write, CopyReport and the helpers that build
// paths when a name is not a single safe file-name component (it is empty,
// ".", "..", or holds a path separator). Build names with SafeName.
var ErrUnsafeName = errors.New("not a single safe file name")

// ErrNoSessionID is returned by Write when the report has no session_id: the
// session id is what makes a rewrite after a crash idempotent.
var ErrNoSessionID = errors.New("report has no session_id")

// ErrInvalid is returned (wrapped, with the details) by Validate when a
// document does not match the report JSON Schema.
var ErrInvalid = errors.New("report does not match schema version 1")

// ErrSourceMissing is returned by MoveFiles when a file is neither at its
// source nor already at its destination: it was removed or renamed by
// someone else, and cannot be moved.
var ErrSourceMissing = errors.New("file is neither at its source nor at its destination")

// ErrOutsideRoot is returned by RemoveEmptyDirs when the folder to remove is
// not strictly inside the folder it must stop at.
var ErrOutsideRoot = errors.New("folder is not inside the stop folder")

// ErrTooManyNames is returned when every numbered variant of a name
// ("base-2.json" … or "name (2).pdf" …) up to the limit is already taken by
// other content.
var ErrTooManyNames = errors.New("too many files with the same name")
