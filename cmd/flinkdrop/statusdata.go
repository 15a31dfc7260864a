package main

import (
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/clock"

	"github.com/flinkdrop/flinkdrop/pipeline"
	"github.com/flinkdrop/flinkdrop/status"
	"github.com/flinkdrop/flinkdrop/store"
	"github.com/flinkdrop/flinkdrop/uploader"
)

// stateDBName is the bbolt database's name inside state_dir.
const stateDBName = "flinkdrop.db"

// maxStatusSessions bounds the unfinished sessions listed in the status.
const maxStatusSessions = 50

// outcomesEvery is how often a running daemon recounts the outcomes of done
// sessions: that walks every record, so not at each status write.
const outcomesEvery = time.Minute

// outcomeCounter counts done sessions by outcome, at most once per every.
type outcomeCounter struct {
	st    *store.Store
	clock clock.Clock
	every time.Duration
	log   zerolog.Logger

	mu       sync.Mutex
	last     time.Time // zero until the first count
	outcomes map[string]int
}

// get returns the outcomes, recounting them when the last count is older
// than every. On an error it keeps the last count.
func (o *outcomeCounter) get() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.clock.Now()
	if !o.last.IsZero() && now.Sub(o.last) < o.every {
		return o.outcomes
	}
	o.last = now
	sum, err := o.st.Summary()
	if err != nil {
		o.log.Warn().Err(err).Msg("cannot count sessions by outcome for the status file")
		return o.outcomes
	}
	o.outcomes = sum.Outcomes
	return o.outcomes
}

// collectStatus is the status file's content for a running daemon.
func (d *daemon) collectStatus(p *pipeline.Pipeline, c *uploader.Client, st *store.Store, oc *outcomeCounter) status.Status {
	snap := p.Snapshot()
	s := status.Status{
		Version:      version,
		PID:          os.Getpid(),
		StartedAt:    d.startedAt,
		Counts:       map[string]int{},
		Paused:       snap.Paused,
		PausedReason: snap.PausedReason,
		Retrying:     snap.RetryingTransient,
	}
	for k, v := range snap.Counts {
		s.Counts[string(k)] = v
	}
	s.Outcomes = copyCounts(oc.get())
	if !snap.OldestPending.IsZero() {
		t := snap.OldestPending
		s.OldestPending = &t
	}
	if !snap.LastError.Time.IsZero() {
		s.LastError = &status.Event{Time: snap.LastError.Time, Message: snap.LastError.Message}
	}
	if info, err := c.Certificate(); err == nil {
		t := info.NotAfter
		s.CertNotAfter = &t
	}
	if sessions, _, err := st.UnfinishedFirst(maxStatusSessions); err == nil {
		s.Sessions = statusSessions(sessions)
	}
	return s
}

// summaryStatus is the status read from the database of a stopped daemon.
func summaryStatus(st *store.Store) (status.Status, error) {
	sum, err := st.Summary()
	if err != nil {
		return status.Status{}, err
	}
	s := status.Status{Counts: map[string]int{}, Outcomes: copyCounts(sum.Outcomes)}
	for k, v := range sum.Counts {
		s.Counts[string(k)] = v
	}
	if !sum.OldestPending.IsZero() {
		t := sum.OldestPending
		s.OldestPending = &t
	}
	s.Sessions = statusSessions(sum.Active)
	return s, nil
}

// copyCounts copies m (nil for an empty one).
func copyCounts(m map[string]int) map[string]int {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func statusSessions(sessions []store.Session) []status.Session {
	var out []status.Session
	for i, ss := range sessions {
		if i == maxStatusSessions {
			break
		}
		detail := ""
		if ss.Error != nil {
			detail = ss.Error.Message
		}
		out = append(out, status.Session{ID: ss.ID, Inbox: ss.Inbox, Folder: ss.Folder, State: string(ss.State),
			FirstSeen: ss.Times.FirstSeen, Files: len(ss.Files), Detail: detail})
	}
	return out
}
