package pipeline

import "errors"

var (
	// ErrCredentials is returned (wrapping the uploader's error) by Run in
	// Once mode when the daemon's own credentials or certificate are
	// refused: the run stops at once and every file stays where it is.
	ErrCredentials = errors.New("credentials or certificate refused")
	// ErrRunning is returned by Run when the pipeline is already running.
	ErrRunning = errors.New("pipeline is already running")
	// ErrNoInbox is returned by New when an inbox lacks a required folder.
	ErrNoInbox = errors.New("inbox is not fully configured")
)
