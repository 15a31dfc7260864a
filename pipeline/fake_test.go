package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/flinkdrop/flinkdrop/uploader"
)

// fakeAgg is one aggregation as the fake server holds it.
type fakeAgg struct {
	files     []string // "name:sha256"
	completed bool
	login     string
}

// fakeUploader is an in-memory Flinks: it reads each file as the real
// client would, keeps aggregations, and lets a test inject errors.
type fakeUploader struct {
	mu      sync.Mutex
	aggs    map[string]*fakeAgg
	next    int
	uploads int
	// onUpload, when set, may return an error instead of the upload (n
	// counts upload calls from 1).
	onUpload func(n int, r uploader.UploadRequest) error
	// onStored, when set, may return an error after the upload was stored
	// in its aggregation: the reply was lost (n as for onUpload).
	onStored func(n int, r uploader.UploadRequest) error
	// onComplete, when set, may return an error instead of completing.
	onComplete func(aggID string) error
	// fraud, when set, answers FraudAnalysis; the default is done, clean.
	fraud     func(loginID string) (uploader.FraudResult, error)
	completes map[string]int
}

var _ Uploader = (*fakeUploader)(nil)

func newFake() *fakeUploader {
	return &fakeUploader{aggs: map[string]*fakeAgg{}, completes: map[string]int{}}
}

func (f *fakeUploader) Upload(ctx context.Context, r uploader.UploadRequest) (uploader.UploadResult, error) {
	f.mu.Lock()
	f.uploads++
	n, hook, stored := f.uploads, f.onUpload, f.onStored
	f.mu.Unlock()
	if hook != nil {
		if err := hook(n, r); err != nil {
			return uploader.UploadResult{}, err
		}
	}
	data, err := os.ReadFile(r.Path)
	if err != nil {
		return uploader.UploadResult{}, &uploader.Error{Kind: uploader.Local, Op: "upload", Message: "read file", Err: err}
	}
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	f.mu.Lock()
	defer f.mu.Unlock()
	id := r.AggregationID
	if id == "" {
		f.next++
		id = fmt.Sprintf("agg-%d", f.next)
		f.aggs[id] = &fakeAgg{}
	}
	a, ok := f.aggs[id]
	if !ok || a.completed {
		return uploader.UploadResult{}, &uploader.Error{Kind: uploader.Rejected, Op: "upload", HTTPStatus: 400, Message: "unknown or completed aggregation"}
	}
	a.files = append(a.files, r.FileName+":"+hexSum)
	if stored != nil {
		if err := stored(n, r); err != nil {
			return uploader.UploadResult{}, err
		}
	}
	return uploader.UploadResult{AggregationID: id, Size: int64(len(data)), SHA256: hexSum, Message: "ok"}, nil
}

func (f *fakeUploader) Complete(ctx context.Context, aggID string) (uploader.CompleteResult, error) {
	f.mu.Lock()
	hook := f.onComplete
	f.mu.Unlock()
	if hook != nil {
		if err := hook(aggID); err != nil {
			return uploader.CompleteResult{}, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.completes[aggID]++
	a, ok := f.aggs[aggID]
	if !ok || a.completed {
		return uploader.CompleteResult{}, &uploader.Error{Kind: uploader.Rejected, Op: "complete", HTTPStatus: 409, Message: "aggregation already completed"}
	}
	a.completed = true
	a.login = "login-" + aggID
	return uploader.CompleteResult{AggregationID: aggID, LoginID: a.login}, nil
}

func (f *fakeUploader) FraudAnalysis(ctx context.Context, loginID string) (uploader.FraudResult, error) {
	f.mu.Lock()
	fn := f.fraud
	f.mu.Unlock()
	if fn != nil {
		return fn(loginID)
	}
	return cleanResult(loginID), nil
}

func cleanResult(loginID string) uploader.FraudResult {
	return uploader.FraudResult{
		Done: true, LoginID: loginID, RequestID: "req-" + loginID,
		Documents: []json.RawMessage{json.RawMessage(`{"Status":"COMPLETED","FullAnalysis":[{"DocumentType":"BANK_STATEMENT","FraudSignals":[]}]}`)},
	}
}

// completed returns the completed aggregations' files.
func (f *fakeUploader) completed() map[string][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]string{}
	for id, a := range f.aggs {
		if a.completed {
			out[id] = append([]string(nil), a.files...)
		}
	}
	return out
}

func (f *fakeUploader) completeCalls(aggID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.completes[aggID]
}

func (f *fakeUploader) setOnUpload(fn func(int, uploader.UploadRequest) error) {
	f.mu.Lock()
	f.onUpload = fn
	f.mu.Unlock()
}
