//go:build !windows

package service

import (
	"context"
	"syscall"
	"testing"
)

// TestRunStopsCleanlyOnSIGTERM is how systemd stops the unit: Run must cancel
// the Runner, wait for it and return nil (exit 0).
func TestRunStopsCleanlyOnSIGTERM(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan struct{})
	s := newTestService(t, Options{}, func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return ctx.Err()
	}, nil)
	res := make(chan error, 1)
	go func() { res <- s.Run() }()
	// The Runner starts after Run has subscribed to SIGTERM, so the signal
	// cannot kill the test process.
	waitClosed(t, started, "the Runner starting")
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatalf("send SIGTERM: %v", err)
	}
	if err := receive(t, res, "Run"); err != nil {
		t.Errorf("Run() after SIGTERM = %v, want nil", err)
	}
	waitClosed(t, cancelled, "the Runner seeing its context cancelled")
}
