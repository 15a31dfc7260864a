package store

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Session is one folder's batch on its way through the pipeline, as
// persisted. It is a value: change a copy inside Update.
type Session struct {
	// ID sorts by creation time (UTC timestamp, then random hex).
	ID string `json:"id"`
	// Inbox is the inbox root the batch came from.
	Inbox string `json:"inbox"`
	// Folder is the path under the inbox with "/" separators, "" for a
	// file directly in the inbox root.
	Folder string `json:"folder"`
	// Dir is the absolute folder holding the files.
	Dir string `json:"dir"`
	// Marker is the ready marker that closed the folder, "" if none.
	Marker string `json:"marker,omitempty"`
	// Tag and ClientName are sent with every upload of the session.
	Tag        string `json:"tag,omitempty"`
	ClientName string `json:"client_name,omitempty"`

	State State `json:"state"`
	// Attempt counts aggregations: it grows each time the session starts
	// over on a fresh aggregation.
	Attempt       int    `json:"attempt"`
	AggregationID string `json:"aggregation_id,omitempty"`
	LoginID       string `json:"login_id,omitempty"`
	RequestID     string `json:"request_id,omitempty"`
	// Outcome is one of the report outcomes, set when it is known.
	Outcome string     `json:"outcome,omitempty"`
	Error   *ErrorInfo `json:"error,omitempty"`
	Files   []File     `json:"files"`
	Fraud   *Fraud     `json:"fraud,omitempty"`
	// NextPollAt is when the fraud analysis is polled next (state polling).
	NextPollAt time.Time `json:"next_poll_at"`
	Times      Times     `json:"times"`

	// ReportPath is the report written to the outbox (state moving on).
	ReportPath string `json:"report_path,omitempty"`
	// ArchiveDir receives the uploaded files ("" when they are deleted or
	// nothing was uploaded); FailedDir receives the rest ("" when none).
	ArchiveDir string `json:"archive_dir,omitempty"`
	FailedDir  string `json:"failed_dir,omitempty"`
	// DeleteUploaded is true when uploaded files are deleted, not archived.
	DeleteUploaded bool `json:"delete_uploaded,omitempty"`
}

// File is one file of a session.
type File struct {
	Path string `json:"path"`
	Name string `json:"name"`
	// Size and ModTime are as the file was when taken (or re-taken when the
	// session started over after the file changed).
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	// SHA256 is the hex digest of the bytes sent, set once sent.
	SHA256 string    `json:"sha256,omitempty"`
	State  FileState `json:"state"`
	// Reason says why the file was rejected.
	Reason string `json:"reason,omitempty"`
	// HTTPStatus is the server's status when the server rejected the file.
	HTTPStatus int `json:"http_status,omitempty"`
}

// ErrorInfo is the permanent error that ended a session.
type ErrorInfo struct {
	Stage      string `json:"stage"`
	HTTPStatus int    `json:"http_status"`
	Message    string `json:"message"`
}

// Fraud is the analysis result.
type Fraud struct {
	SignalCount int               `json:"signal_count"`
	Documents   []json.RawMessage `json:"documents"`
}

// Times are a session's milestones; zero means not reached.
type Times struct {
	FirstSeen time.Time `json:"first_seen"`
	Uploaded  time.Time `json:"uploaded"`
	Completed time.Time `json:"completed"`
	Analysed  time.Time `json:"analysed"`
	Reported  time.Time `json:"reported"`
	Done      time.Time `json:"done"`
}

// Paths returns every path the session holds in the inbox: its files and
// its marker.
func (s *Session) Paths() []string {
	out := make([]string, 0, len(s.Files)+1)
	for _, f := range s.Files {
		out = append(out, f.Path)
	}
	if s.Marker != "" {
		out = append(out, s.Marker)
	}
	return out
}

// Clone returns a deep copy of s.
func (s Session) Clone() Session {
	s.Files = append([]File(nil), s.Files...)
	if s.Error != nil {
		e := *s.Error
		s.Error = &e
	}
	if s.Fraud != nil {
		f := *s.Fraud
		f.Documents = append([]json.RawMessage(nil), f.Documents...)
		s.Fraud = &f
	}
	return s
}

// NewID returns a session id that sorts by now: a UTC timestamp with
// milliseconds and 8 random hex digits.
func NewID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported systems
	return now.UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b[:])
}
