package pipeline

import (
	"context"
	"sync"
	"time"
)

// gate is the one pause shared by every worker: closed while the daemon's
// credentials are refused. The first worker to close it becomes the prober
// that retries its call until the credentials work again; the others wait.
type gate struct {
	mu     sync.Mutex
	open   chan struct{} // closed while the gate is open
	paused bool
	reason string
	since  time.Time
}

func newGate() *gate {
	g := &gate{open: make(chan struct{})}
	close(g.open)
	return g
}

// wait blocks while the gate is closed.
func (g *gate) wait(ctx context.Context) error {
	g.mu.Lock()
	ch := g.open
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pause closes the gate with reason. It returns true when the caller closed
// it (and so is the prober), false when it was already closed.
func (g *gate) pause(reason string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused {
		return false
	}
	g.paused, g.reason, g.since = true, reason, now
	g.open = make(chan struct{})
	return true
}

// resume opens the gate and wakes every waiter.
func (g *gate) resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.paused {
		return
	}
	g.paused, g.reason = false, ""
	close(g.open)
}

func (g *gate) state() (paused bool, reason string, since time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paused, g.reason, g.since
}
