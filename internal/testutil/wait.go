package testutil

import (
	"testing"
	"time"
)

// maxPoll is the longest pause between two checks of a WaitFor condition;
// the pause starts at a millisecond and doubles up to it, so a condition
// that holds soon is seen soon and a slow one is not checked in a busy loop.
const maxPoll = 20 * time.Millisecond

// WaitFor checks cond until it returns true, and fails t (naming what) when
// timeout passes first. The timeout is a limit on a wait for a condition,
// not an assertion on how long the code under test takes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(pause)
		pause = min(2*pause, maxPoll)
	}
}
