// Package status is the daemon's status file: state_dir/status.json, kept
// current by the running daemon and read by `flinkdrop status`, which cannot
// open the bbolt database while the daemon holds it.
package status

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/clock"
)

// FileName is the status file's name inside state_dir.
const FileName = "status.json"

// Status is what the daemon reports about itself.
type Status struct {
	Version   string    `json:"version"`
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Interval is how often the daemon rewrites the file; a reader treats a
	// file older than a few intervals as stale.
	Interval Duration `json:"interval"`
	// Counts are sessions by state.
	Counts map[string]int `json:"counts"`
	// Outcomes are done sessions (until pruned) by report outcome: clean,
	// fraud_signals, uploaded, rejected, failed, timed_out. A running
	// daemon refreshes them at most once a minute.
	Outcomes map[string]int `json:"outcomes,omitempty"`
	// OldestPending is when the oldest unfinished session was first seen.
	OldestPending *time.Time `json:"oldest_pending,omitempty"`
	// Paused is true while credential or certificate errors hold all uploading.
	Paused       bool   `json:"paused"`
	PausedReason string `json:"paused_reason,omitempty"`
	// Retrying counts sessions waiting on a transient error.
	Retrying int `json:"retrying"`
	// CertNotAfter is the client certificate's expiry.
	CertNotAfter *time.Time `json:"cert_not_after,omitempty"`
	LastError    *Event     `json:"last_error,omitempty"`
	// Sessions lists unfinished sessions, oldest first (bounded).
	Sessions []Session `json:"sessions,omitempty"`
}

// Event is a dated message.
type Event struct {
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
}

// Session is one unfinished session as the status shows it.
type Session struct {
	ID        string    `json:"id"`
	Inbox     string    `json:"inbox"`
	Folder    string    `json:"folder"`
	State     string    `json:"state"`
	FirstSeen time.Time `json:"first_seen"`
	Files     int       `json:"files"`
	Detail    string    `json:"detail,omitempty"`
}

// Duration marshals as a Go duration string.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Stale reports whether s was last written too long before now for its
// writer to be alive and well.
func (s Status) Stale(now time.Time) bool {
	iv := time.Duration(s.Interval)
	if iv <= 0 {
		iv = DefaultInterval
	}
	return now.Sub(s.UpdatedAt) > 3*iv+5*time.Second
}

// FileMode is the status file's permissions: readable by the service
// user's group, so an operator in it can run `flinkdrop status`. It holds no
// secret.
const FileMode = 0o640

// Write replaces the status file at path atomically: a reader sees the old
// file or the new one, never a part. The file has FileMode.
func Write(path string, s Status) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("status: encode: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".status-*.tmp")
	if err != nil {
		return fmt.Errorf("status: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(FileMode); err != nil {
		tmp.Close()
		return fmt.Errorf("status: write %s: %w", path, err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("status: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("status: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("status: write %s: %w", path, err)
	}
	return nil
}

// Read loads the status file at path.
func Read(path string) (Status, error) {
	var s Status
	data, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("status: read %s: %w", path, err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("status: read %s: not a status file (%v)", path, err)
	}
	return s, nil
}

// DefaultInterval is how often Writer rewrites the file.
const DefaultInterval = 2 * time.Second

// Writer keeps the status file current.
type Writer struct {
	Path string
	// Interval between writes; zero means DefaultInterval.
	Interval time.Duration
	// Collect returns the current status; Writer fills UpdatedAt and Interval.
	Collect func() Status
	Clock   clock.Clock
	Log     zerolog.Logger
}

// Run writes the file at once, then every Interval, and a last time when ctx
// is done.
func (w *Writer) Run(ctx context.Context) error {
	clk := w.Clock
	if clk == nil {
		clk = clock.Real()
	}
	iv := w.Interval
	if iv <= 0 {
		iv = DefaultInterval
	}
	var failing bool
	write := func() {
		s := w.Collect()
		s.UpdatedAt = clk.Now()
		s.Interval = Duration(iv)
		err := Write(w.Path, s)
		switch {
		case err != nil && !failing:
			w.Log.Error().Err(err).Msg("cannot write the status file (flinkdrop status will show stale data)")
			failing = true
		case err == nil && failing:
			w.Log.Info().Str("path", w.Path).Msg("status file written again")
			failing = false
		}
	}
	write()
	t := clk.NewTimer(iv)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			write()
			return nil
		case <-t.C():
			write()
			t.Reset(iv)
		}
	}
}
