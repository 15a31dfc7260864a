package store

import "fmt"

// State is where a session stands. Each state is persisted before the step
// it names is taken.
type State string

// Session states, in the order a session walks through them.
const (
	// StateTaken: the batch is recorded; local checks not yet done.
	StateTaken State = "taken"
	// StateUploading: files are being uploaded to one aggregation.
	StateUploading State = "uploading"
	// StateCompleting: complete is about to be (or was) called.
	StateCompleting State = "completing"
	// StatePolling: completed; waiting for the fraud analysis.
	StatePolling State = "polling"
	// StateReporting: the outcome is known; the report is to be written.
	StateReporting State = "reporting"
	// StateMoving: the report is on disk; files are to be moved or deleted.
	StateMoving State = "moving"
	// StateDone: finished; the session's paths are no longer taken.
	StateDone State = "done"
)

// AllStates returns every session state in walking order.
func AllStates() []State {
	return []State{StateTaken, StateUploading, StateCompleting, StatePolling, StateReporting, StateMoving, StateDone}
}

// Successors is the session state machine: the states s may go to. A state
// listed as its own successor may be updated in place (per-file progress, a
// fresh aggregation, the next poll time, a retry). Completing is not its own
// successor: complete is never recorded as called twice.
func Successors(s State) []State {
	switch s {
	case StateTaken:
		return []State{StateTaken, StateUploading, StateReporting}
	case StateUploading:
		return []State{StateUploading, StateCompleting, StateReporting}
	case StateCompleting:
		return []State{StatePolling, StateReporting}
	case StatePolling:
		return []State{StatePolling, StateReporting}
	case StateReporting:
		return []State{StateReporting, StateMoving}
	case StateMoving:
		return []State{StateMoving, StateDone}
	}
	return nil
}

// CanTransition reports whether a session may go from one state to another.
func CanTransition(from, to State) bool {
	for _, s := range Successors(from) {
		if s == to {
			return true
		}
	}
	return false
}

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	for _, k := range AllStates() {
		if s == k {
			return true
		}
	}
	return false
}

// FileState is where one file of a session stands.
type FileState string

// File states.
const (
	// FilePending: not yet sent in the current aggregation.
	FilePending FileState = "pending"
	// FileSending: an upload call is (or was, before a crash) in flight.
	FileSending FileState = "sending"
	// FileSent: the server accepted the file into the aggregation.
	FileSent FileState = "sent"
	// FileRejected: refused locally or by the server; never uploaded again.
	FileRejected FileState = "rejected"
)

// FileSuccessors is the file state machine: the states f may go to. Sending
// and sent go back to pending when the session starts over on a fresh
// aggregation; rejected is final.
func FileSuccessors(f FileState) []FileState {
	switch f {
	case FilePending:
		return []FileState{FilePending, FileSending, FileRejected}
	case FileSending:
		return []FileState{FileSending, FileSent, FilePending, FileRejected}
	case FileSent:
		return []FileState{FileSent, FilePending, FileRejected}
	case FileRejected:
		return []FileState{FileRejected}
	}
	return nil
}

// CanTransitionFile reports whether a file may go from one state to another.
func CanTransitionFile(from, to FileState) bool {
	for _, s := range FileSuccessors(from) {
		if s == to {
			return true
		}
	}
	return false
}

// checkTransition validates a whole session change: its state and every
// file's state.
func checkTransition(old, next *Session) error {
	if !next.State.Valid() {
		return fmt.Errorf("%w: unknown state %q", ErrIllegalTransition, next.State)
	}
	if !CanTransition(old.State, next.State) {
		return fmt.Errorf("%w: session %s from %s to %s", ErrIllegalTransition, old.ID, old.State, next.State)
	}
	if len(next.Files) != len(old.Files) {
		return fmt.Errorf("%w: session %s: files cannot be added or removed (%d → %d)", ErrIllegalTransition, old.ID, len(old.Files), len(next.Files))
	}
	for i := range next.Files {
		o, n := old.Files[i], next.Files[i]
		if o.Path != n.Path {
			return fmt.Errorf("%w: session %s: file %d path changed", ErrIllegalTransition, old.ID, i)
		}
		if !CanTransitionFile(o.State, n.State) {
			return fmt.Errorf("%w: session %s file %s from %s to %s", ErrIllegalTransition, old.ID, o.Name, o.State, n.State)
		}
	}
	if next.ID != old.ID {
		return fmt.Errorf("%w: session id changed", ErrIllegalTransition)
	}
	return nil
}
