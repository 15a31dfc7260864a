// Package report builds, names and writes the per-session JSON report, and
// moves a finished session's files to the archive or failed folders.
package report

import (
	"encoding/json"
	"time"
)

// SchemaVersion is the version written in every report.
const SchemaVersion = 1

// Outcomes of a session (SPEC §5).
const (
	OutcomeClean        = "clean"
	OutcomeFraudSignals = "fraud_signals"
	OutcomeUploaded     = "uploaded"
	OutcomeRejected     = "rejected"
	OutcomeFailed       = "failed"
	OutcomeTimedOut     = "timed_out"
)

// File statuses in a report.
const (
	FileUploaded = "uploaded"
	FileRejected = "rejected"
)

// Report is the document written to the outbox, schema version 1
// (schema.json, checked by Validate). Every field is always written: an
// empty string as "", no fraud analysis or no error as null, no files as [];
// only the Times milestones that did not happen are left out.
type Report struct {
	SchemaVersion int    `json:"schema_version"`
	SessionID     string `json:"session_id"`
	Inbox         string `json:"inbox"`
	Folder        string `json:"folder"`
	Outcome       string `json:"outcome"`
	AggregationID string `json:"aggregation_id"`
	LoginID       string `json:"login_id"`
	RequestID     string `json:"request_id"`
	Tag           string `json:"tag"`
	ClientName    string `json:"client_name"`
	Files         []File `json:"files"`
	Fraud         *Fraud `json:"fraud"`
	Error         *Error `json:"error"`
	Times         Times  `json:"times"`
}

// File is one file's line in a report.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Status string `json:"status"`
	Reason string `json:"reason"`
}

// Fraud is the analysis result; Documents are the DocumentAnalysis entries
// as received.
type Fraud struct {
	SignalCount int               `json:"signal_count"`
	Documents   []json.RawMessage `json:"documents"`
}

// Error is the permanent error that ended a session.
type Error struct {
	Stage      string `json:"stage"`
	HTTPStatus int    `json:"http_status"`
	Message    string `json:"message"`
}

// Times are the session's milestones; a zero time is omitted.
type Times struct {
	FirstSeen time.Time  `json:"first_seen"`
	Uploaded  *time.Time `json:"uploaded,omitempty"`
	Completed *time.Time `json:"completed,omitempty"`
	Analysed  *time.Time `json:"analysed,omitempty"`
	Reported  *time.Time `json:"reported,omitempty"`
}
