package service

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/clock"
)

// waitTimeout bounds how long a test waits for something that should happen
// at once; it only turns a hang into a failure.
const waitTimeout = 10 * time.Second

func newTestProgram(t *testing.T, run Runner) (*program, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	return newProgram(run, 10*time.Second, clk, zerolog.Nop()), clk
}

// waitClosed fails the test if ch is not closed within waitTimeout.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatalf("%s did not happen within %s", what, waitTimeout)
	}
}

// stopAsync calls p.Stop in a goroutine and returns a channel with its result.
func stopAsync(p *program) <-chan error {
	res := make(chan error, 1)
	go func() { res <- p.Stop(nil) }()
	return res
}

func receive(t *testing.T, ch <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("%s did not return within %s", what, waitTimeout)
		return nil
	}
}

func TestStartReturnsAtOnceAndStopCancels(t *testing.T) {
	started := make(chan struct{})
	sawCancel := make(chan struct{})
	p, _ := newTestProgram(t, func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		close(sawCancel)
		return ctx.Err()
	})

	// Start must return while the Runner is still blocked on its context.
	if err := p.Start(nil); err != nil {
		t.Fatalf("Start() = %v, want nil", err)
	}
	waitClosed(t, started, "the Runner starting")
	select {
	case <-p.Done():
		t.Fatal("Done() closed after Start, want the Runner still running")
	case <-sawCancel:
		t.Fatal("Runner saw its context cancelled before Stop")
	default:
	}

	if err := p.Stop(nil); err != nil {
		t.Errorf("Stop() = %v, want nil for a Runner that returns ctx.Err()", err)
	}
	waitClosed(t, sawCancel, "the Runner seeing its context cancelled")
	waitClosed(t, p.Done(), "Done() closing")
}

func TestStopWaitsForTheRunner(t *testing.T) {
	release := make(chan struct{})
	cleanedUp := make(chan struct{})
	p, clk := newTestProgram(t, func(ctx context.Context) error {
		<-ctx.Done()
		<-release // still finishing its work
		close(cleanedUp)
		return nil
	})
	if err := p.Start(nil); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	res := stopAsync(p)
	clk.BlockUntil(1) // Stop is now waiting on its timeout timer
	select {
	case err := <-res:
		t.Fatalf("Stop() returned %v while the Runner was still finishing, want it to wait", err)
	default:
	}
	close(release)
	if err := receive(t, res, "Stop"); err != nil {
		t.Errorf("Stop() = %v, want nil", err)
	}
	select {
	case <-cleanedUp:
	default:
		t.Error("Stop returned before the Runner finished")
	}
}

func TestStopTimesOutOnARunnerThatIgnoresItsContext(t *testing.T) {
	release := make(chan struct{})
	p, clk := newTestProgram(t, func(context.Context) error {
		<-release // ignores ctx
		return nil
	})
	t.Cleanup(func() { close(release) })
	if err := p.Start(nil); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	res := stopAsync(p)
	clk.BlockUntil(1)
	clk.Advance(10*time.Second - time.Nanosecond)
	select {
	case err := <-res:
		t.Fatalf("Stop() returned %v before the stop timeout passed", err)
	default:
	}
	clk.Advance(time.Nanosecond)
	err := receive(t, res, "Stop")
	if !errors.Is(err, ErrStopTimeout) {
		t.Errorf("Stop() = %v, want ErrStopTimeout", err)
	}
}

func TestStopBeforeStartIsNoOp(t *testing.T) {
	p, _ := newTestProgram(t, func(ctx context.Context) error { <-ctx.Done(); return nil })
	if err := p.Stop(nil); err != nil {
		t.Errorf("Stop() before Start = %v, want nil", err)
	}
}

func TestStartTwice(t *testing.T) {
	p, _ := newTestProgram(t, func(ctx context.Context) error { <-ctx.Done(); return nil })
	if err := p.Start(nil); err != nil {
		t.Fatalf("first Start() = %v", err)
	}
	t.Cleanup(func() { _ = p.Stop(nil) })
	if err := p.Start(nil); !errors.Is(err, ErrAlreadyStarted) {
		t.Errorf("second Start() = %v, want ErrAlreadyStarted", err)
	}
}

// TestRunUntil covers how the Runner's ending maps to Run's result: a stop
// request with a clean return is success; a Runner that ends on its own, with
// or without an error, is a failure the service manager must see.
func TestRunUntil(t *testing.T) {
	boom := errors.New("boom: database is corrupt")
	tests := []struct {
		name    string
		signal  bool // send a stop signal
		run     Runner
		wantErr error // nil: want success
	}{
		{"stopped, returns ctx.Err", true, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, nil},
		{"stopped, returns nil", true, func(ctx context.Context) error { <-ctx.Done(); return nil }, nil},
		{"stopped, fails while stopping", true, func(ctx context.Context) error { <-ctx.Done(); return boom }, boom},
		{"crashes on its own", false, func(context.Context) error { return boom }, boom},
		{"ends on its own without error", false, func(context.Context) error { return nil }, ErrExitedOnItsOwn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestService(t, Options{}, tt.run, nil)
			stop := make(chan os.Signal, 1)
			if tt.signal {
				stop <- syscall.SIGTERM
			}
			res := make(chan error, 1)
			go func() { res <- s.runUntil(stop) }()
			err := receive(t, res, "runUntil")
			switch {
			case tt.wantErr == nil && err != nil:
				t.Errorf("runUntil() = %v, want nil", err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("runUntil() = %v, want an error wrapping %v", err, tt.wantErr)
			}
		})
	}
}

// TestRunFailsWhenTheDaemonCrashes runs the whole Run path (with the real
// signal handling) and a Runner that fails at once: Run must return the
// failure so main exits non-zero and the service manager restarts it.
func TestRunFailsWhenTheDaemonCrashes(t *testing.T) {
	boom := errors.New("state_dir is not writable")
	s, err := New(Options{Executable: "/usr/bin/flinkdrop", Log: zerolog.Nop()}, func(context.Context) error { return boom })
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	res := make(chan error, 1)
	go func() { res <- s.Run() }()
	if err := receive(t, res, "Run"); !errors.Is(err, boom) {
		t.Errorf("Run() = %v, want an error wrapping %v", err, boom)
	}
}
