package uploader

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/flinkdrop/flinkdrop/internal/clock"
)

// Backoff computes retry delays: exponential from Base, capped at Max, with
// up to Jitter of each delay taken off at random. The zero value means Base
// 1s, Max 5m, no jitter.
type Backoff struct {
	Base, Max time.Duration
	// Jitter in [0, 1] is the largest fraction taken off a delay.
	Jitter float64
	// Rand returns a number in [0, 1); nil means math/rand/v2.
	Rand func() float64
}

// Delay returns the delay before retry number attempt (0 for the first).
func (b Backoff) Delay(attempt int) time.Duration {
	base, limit := b.Base, b.Max
	if base <= 0 {
		base = time.Second
	}
	if limit <= 0 {
		limit = 5 * time.Minute
	}
	if limit < base {
		limit = base
	}
	d := base
	for i := 0; i < attempt && d < limit; i++ {
		d *= 2
	}
	if d > limit || d <= 0 {
		d = limit
	}
	j := b.Jitter
	if j <= 0 {
		return d
	}
	if j > 1 {
		j = 1
	}
	rnd := rand.Float64
	if b.Rand != nil {
		rnd = b.Rand
	}
	r := rnd()
	if r < 0 || r >= 1 {
		r = 0
	}
	return d - time.Duration(float64(d)*j*r)
}

// Sleep waits d on clk, or until ctx ends (returning its error).
func Sleep(ctx context.Context, clk clock.Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
