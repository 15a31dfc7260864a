package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	kservice "github.com/kardianos/service"
	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/clock"
)

// program runs the Runner for the service manager: Start launches it and
// returns at once, Stop cancels it and waits a bounded time. It implements
// kardianos' service.Interface.
type program struct {
	run         Runner
	stopTimeout time.Duration
	clock       clock.Clock
	log         zerolog.Logger

	mu       sync.Mutex
	cancel   context.CancelFunc
	done     chan struct{} // closed when run has returned; nil before Start
	stopping bool          // Stop was called
	runErr   error         // what run returned; set before done is closed
	early    bool          // run returned before Stop was called
}

var _ kservice.Interface = (*program)(nil)

func newProgram(run Runner, stopTimeout time.Duration, clk clock.Clock, log zerolog.Logger) *program {
	return &program{run: run, stopTimeout: stopTimeout, clock: clk, log: log}
}

// Start launches the Runner in a goroutine and returns at once.
func (p *program) Start(kservice.Service) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		return ErrAlreadyStarted
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	p.cancel, p.done = cancel, done
	p.log.Info().Msg("service: daemon starting")
	go func() {
		err := p.run(ctx)
		p.mu.Lock()
		p.runErr = err
		p.early = !p.stopping
		p.mu.Unlock()
		cancel()
		close(done)
	}()
	return nil
}

// Done is closed once the Runner has returned (nil before Start).
func (p *program) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// Stop cancels the Runner's context and waits at most stopTimeout for it to
// return. It returns the Runner's failure if it ended on its own before Stop
// (a crash), the Runner's error if it failed while stopping, and an error
// wrapping ErrStopTimeout if it did not return in time.
func (p *program) Stop(kservice.Service) error {
	p.mu.Lock()
	p.stopping = true
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if done == nil {
		return nil
	}
	cancel()

	timer := p.clock.NewTimer(p.stopTimeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C():
		return fmt.Errorf("service: %w: still running %s after it was asked to stop (the process exits now; interrupted work resumes at the next start)",
			ErrStopTimeout, p.stopTimeout)
	}

	p.mu.Lock()
	runErr, early := p.runErr, p.early
	p.mu.Unlock()
	switch {
	case early && runErr == nil:
		return fmt.Errorf("service: %w (it returned without an error; the service manager restarts it)", ErrExitedOnItsOwn)
	case early:
		return fmt.Errorf("service: the daemon failed: %w", runErr)
	case runErr != nil && !errors.Is(runErr, context.Canceled):
		return fmt.Errorf("service: the daemon failed while stopping: %w", runErr)
	}
	p.log.Info().Msg("service: daemon stopped")
	return nil
}
