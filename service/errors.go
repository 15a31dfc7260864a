package service

import "errors"

var (
	// ErrStopTimeout is returned by Stop (and so by Run) when the Runner did
	// not return within Options.StopTimeout after its context was cancelled.
	ErrStopTimeout = errors.New("the daemon did not stop in time")

	// ErrExitedOnItsOwn is wrapped by Run when the Runner returned nil before
	// anyone asked it to stop: a service that ends by itself is a failure, so
	// the service manager restarts it.
	ErrExitedOnItsOwn = errors.New("the daemon stopped on its own")

	// ErrNoServiceManager is returned by Control and Status when no service
	// manager (systemd, another Linux init system, the Windows Service Control
	// Manager) was detected on this machine.
	ErrNoServiceManager = errors.New("no service manager detected")

	// ErrUnknownAction is returned by Control for an action other than
	// install, uninstall, start, stop or restart.
	ErrUnknownAction = errors.New("unknown service action")

	// ErrAlreadyStarted is returned when the program is started twice.
	ErrAlreadyStarted = errors.New("the daemon is already started")

	// ErrInvalidOption is wrapped when an Options field cannot be used (a name
	// with spaces, a control character in a path, a negative StopTimeout…).
	ErrInvalidOption = errors.New("invalid service option")
)
