package pipeline

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/flinkdrop/flinkdrop/internal/clock"
)

// queue holds the sessions ready for a worker. A session is never handed to
// two workers at once: pushing one that is being worked on marks it to run
// again when its worker is done.
type queue struct {
	mu     sync.Mutex
	items  []string
	queued map[string]bool
	active map[string]bool
	again  map[string]bool
	notify chan struct{}
}

func newQueue() *queue {
	return &queue{
		queued: map[string]bool{},
		active: map[string]bool{},
		again:  map[string]bool{},
		notify: make(chan struct{}, 1),
	}
}

func (q *queue) push(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pushLocked(id)
}

func (q *queue) pushLocked(id string) {
	if q.active[id] {
		q.again[id] = true
		return
	}
	if q.queued[id] {
		return
	}
	q.queued[id] = true
	q.items = append(q.items, id)
	q.signal()
}

func (q *queue) signal() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// pop waits for a session and marks it active.
func (q *queue) pop(ctx context.Context) (string, bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			id := q.items[0]
			q.items[0] = ""
			q.items = q.items[1:]
			delete(q.queued, id)
			q.active[id] = true
			if len(q.items) > 0 {
				q.signal() // wake another idle worker
			}
			q.mu.Unlock()
			return id, true
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return "", false
		case <-q.notify:
		}
	}
}

// done releases a session popped earlier.
func (q *queue) done(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.active, id)
	if q.again[id] {
		delete(q.again, id)
		q.pushLocked(id)
	}
}

// busy returns the number of sessions queued or being worked on.
func (q *queue) busy() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) + len(q.active)
}

// scheduler pushes sessions onto the queue when their time comes: the next
// fraud poll, or a retry after a local error. One goroutine and one timer
// serve any number of sessions; no worker waits.
type scheduler struct {
	mu   sync.Mutex
	h    timeHeap
	at   map[string]time.Time // the live entry per session
	wake chan struct{}
	clk  clock.Clock
	q    *queue
}

func newScheduler(clk clock.Clock, q *queue) *scheduler {
	return &scheduler{at: map[string]time.Time{}, wake: make(chan struct{}, 1), clk: clk, q: q}
}

// schedule (re)sets the time at which id is pushed onto the queue.
func (s *scheduler) schedule(id string, at time.Time) {
	s.mu.Lock()
	s.at[id] = at
	heap.Push(&s.h, entry{at: at, id: id})
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pending returns the number of sessions waiting for their time.
func (s *scheduler) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.at)
}

// run dispatches due sessions until ctx is done.
func (s *scheduler) run(ctx context.Context) {
	for {
		next, ok := s.dispatch()
		var timer clock.Timer
		var fire <-chan time.Time
		if ok {
			timer = s.clk.NewTimer(next.Sub(s.clk.Now()))
			// The timer counts from when it was armed: if the clock reached
			// next meanwhile (a fake clock advanced between dispatch and
			// here), it would fire a whole wait too late. Dispatch again.
			if !s.clk.Now().Before(next) {
				timer.Stop()
				continue
			}
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case <-s.wake:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// dispatch pushes every due session and returns the time of the next one
// (false when none is scheduled).
func (s *scheduler) dispatch() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clk.Now()
	for s.h.Len() > 0 {
		e := s.h[0]
		if at, live := s.at[e.id]; !live || !at.Equal(e.at) {
			heap.Pop(&s.h) // superseded entry
			continue
		}
		if e.at.After(now) {
			return e.at, true
		}
		heap.Pop(&s.h)
		delete(s.at, e.id)
		s.q.push(e.id)
	}
	return time.Time{}, false
}

type entry struct {
	at time.Time
	id string
}

type timeHeap []entry

func (h timeHeap) Len() int           { return len(h) }
func (h timeHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timeHeap) Push(x any)        { *h = append(*h, x.(entry)) }
func (h *timeHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
