package uploader

import (
	"encoding/json"
	"time"
)

// UploadRequest is one file to send in one upload call.
type UploadRequest struct {
	// AggregationID is empty for the first file of a session and the id the
	// server returned for every later one.
	AggregationID string
	// FileName is the name sent as Files[0].FileName.
	FileName string
	// Path is the file on disk; it is streamed, never read whole.
	Path string
	// Tag and ClientName are sent when not empty.
	Tag        string
	ClientName string
}

// UploadResult is what one upload call established.
type UploadResult struct {
	// AggregationID is the id the server returned (equal to the one sent,
	// when one was sent).
	AggregationID string
	// Size and SHA256 (lower-case hex) describe the bytes actually sent,
	// computed in the same pass that streamed them.
	Size   int64
	SHA256 string
	// Message is the server's message.
	Message string
}

// CompleteResult is the reply to a complete call.
type CompleteResult struct {
	AggregationID string
	// LoginID is Login.Id: the key for the fraud analysis.
	LoginID string
	Message string
}

// FraudResult is one poll of the fraud analysis.
type FraudResult struct {
	// Done is true when every DocumentAnalysis entry has a terminal status
	// (COMPLETED, or one that looks like an error). A 404 or any other status
	// is "not yet": Done is false and the error is nil.
	Done bool
	// Failed is true when at least one document ended in an error status
	// (FAILED, ERROR, REJECTED...).
	Failed    bool
	LoginID   string
	RequestID string
	Message   string
	// Documents are the DocumentAnalysis entries exactly as received.
	Documents []json.RawMessage
	// SignalCount is the number of FraudSignals entries over all documents.
	SignalCount int
}

// CertInfo describes the client certificate in use.
type CertInfo struct {
	Subject   string
	Issuer    string
	NotBefore time.Time
	NotAfter  time.Time
}
