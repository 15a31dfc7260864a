package main

import (
	"os"

	"github.com/flinkdrop/flinkdrop/pipeline"
	"github.com/flinkdrop/flinkdrop/status"
	"github.com/flinkdrop/flinkdrop/store"
	"github.com/flinkdrop/flinkdrop/uploader"
)

// stateDBName is the bbolt database's name inside state_dir.
const stateDBName = "flinkdrop.db"

// maxStatusSessions bounds the unfinished sessions listed in the status.
const maxStatusSessions = 50

// collectStatus is the status file's content for a running daemon.
func (d *daemon) collectStatus(p *pipeline.Pipeline, c *uploader.Client, st *store.Store) status.Status {
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
	s := status.Status{Counts: map[string]int{}}
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
