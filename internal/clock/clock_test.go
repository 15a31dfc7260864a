package clock

import (
	"testing"
	"time"
)

func TestFakeFiresInOrder(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := NewFake(start)
	a := f.NewTimer(2 * time.Second)
	b := f.After(time.Second)
	f.Advance(500 * time.Millisecond)
	select {
	case <-b:
		t.Fatal("timer fired early")
	default:
	}
	f.Advance(time.Second)
	if got := <-b; !got.Equal(start.Add(1500 * time.Millisecond)) {
		t.Errorf("b fired at %v, want %v", got, start.Add(1500*time.Millisecond))
	}
	if f.Timers() != 1 {
		t.Errorf("Timers() = %d, want 1", f.Timers())
	}
	if !a.Stop() {
		t.Error("Stop() of an armed timer = false")
	}
	f.Advance(time.Hour)
	select {
	case <-a.C():
		t.Fatal("stopped timer fired")
	default:
	}
	a.Reset(time.Minute)
	f.Advance(time.Minute)
	<-a.C()
}

func TestFakeZeroDurationFiresAtOnce(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	select {
	case <-f.After(0):
	default:
		t.Fatal("After(0) did not fire at once")
	}
}
