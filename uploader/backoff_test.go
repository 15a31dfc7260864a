package uploader

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flinkdrop/flinkdrop/internal/clock"
)

func TestBackoffDelay(t *testing.T) {
	half := func() float64 { return 0.5 }
	tests := []struct {
		name    string
		b       Backoff
		attempt int
		want    time.Duration
	}{
		{"first", Backoff{Base: time.Second, Max: time.Minute}, 0, time.Second},
		{"third", Backoff{Base: time.Second, Max: time.Minute}, 2, 4 * time.Second},
		{"capped", Backoff{Base: time.Second, Max: time.Minute}, 10, time.Minute},
		{"huge attempt does not overflow", Backoff{Base: time.Second, Max: time.Minute}, 1 << 30, time.Minute},
		{"negative attempt", Backoff{Base: time.Second, Max: time.Minute}, -3, time.Second},
		{"zero value defaults", Backoff{}, 0, time.Second},
		{"zero value cap", Backoff{}, 100, 5 * time.Minute},
		{"jitter takes off up to Jitter", Backoff{Base: time.Second, Max: time.Minute, Jitter: 0.5, Rand: half}, 2, 3 * time.Second},
		{"full jitter", Backoff{Base: time.Second, Max: time.Minute, Jitter: 1, Rand: half}, 0, 500 * time.Millisecond},
		{"jitter over 1 is 1", Backoff{Base: time.Second, Max: time.Minute, Jitter: 7, Rand: half}, 0, 500 * time.Millisecond},
		{"bad Rand ignored", Backoff{Base: time.Second, Max: time.Minute, Jitter: 1, Rand: func() float64 { return 2 }}, 0, time.Second},
		{"max below base", Backoff{Base: time.Minute, Max: time.Second}, 3, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.b.Delay(tt.attempt); got != tt.want {
				t.Errorf("%+v.Delay(%d) = %v, want %v", tt.b, tt.attempt, got, tt.want)
			}
		})
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: 10 * time.Second, Jitter: 0.3}
	for attempt := range 12 {
		full := Backoff{Base: b.Base, Max: b.Max}.Delay(attempt)
		for range 50 {
			got := b.Delay(attempt)
			if got > full || got < full-time.Duration(0.3*float64(full)) {
				t.Fatalf("Delay(%d) = %v, want within [%v, %v]", attempt, got, full-time.Duration(0.3*float64(full)), full)
			}
		}
	}
}

func TestSleep(t *testing.T) {
	clk := clock.NewFake(testStart)
	done := make(chan error, 1)
	go func() { done <- Sleep(context.Background(), clk, time.Minute) }()
	clk.BlockUntil(1)
	clk.Advance(59 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("Sleep returned %v after 59s of a 1m sleep", err)
	default:
	}
	clk.Advance(time.Second)
	if err := <-done; err != nil {
		t.Errorf("Sleep = %v, want nil", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- Sleep(ctx, clk, time.Hour) }()
	clk.BlockUntil(1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep after cancel = %v, want context.Canceled", err)
	}
	if got := clk.Timers(); got != 0 {
		t.Errorf("timers left armed = %d, want 0", got)
	}

	if err := Sleep(ctx, clk, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep(0) on a cancelled ctx = %v, want context.Canceled", err)
	}
	if err := Sleep(context.Background(), clk, -time.Second); err != nil {
		t.Errorf("Sleep(negative) = %v, want nil", err)
	}
}
