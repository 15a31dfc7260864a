package pipeline

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/flinkdrop/flinkdrop/internal/clock"
)

// A session scheduled for now+d is dispatched once the clock has moved by
// d, whenever the move falls: before the scheduler looks, while it arms its
// timer, or after. The clock moving between the scheduler reading Now and
// arming its timer used to arm the timer d too late, so on a fake clock the
// session never came (this failed within a few hundred rounds).
func TestSchedulerClockMovesWhileArming(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	q := newQueue()
	s := newScheduler(clk, q)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.run(ctx) }()
	defer func() { cancel(); <-done }()

	const rounds = 2000
	for i := range rounds {
		id := strconv.Itoa(i)
		s.schedule(id, clk.Now().Add(30*time.Second))
		for range i % 7 {
			runtime.Gosched() // let the move fall at different points of the scheduler's loop
		}
		clk.Advance(30 * time.Second)
		popCtx, popCancel := context.WithTimeout(ctx, 10*time.Second)
		got, ok := q.pop(popCtx)
		popCancel()
		if !ok {
			t.Fatalf("round %d: session %s not dispatched after the clock passed its time (scheduled %d, timers %d)", i, id, s.pending(), clk.Timers())
		}
		if got != id {
			t.Fatalf("round %d: dispatched %s, want %s", i, got, id)
		}
		q.done(got)
	}
}
