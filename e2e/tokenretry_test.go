package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/samples"
	"github.com/flinkdrop/flinkdrop/pipeline"
	"github.com/flinkdrop/flinkdrop/store"
	"github.com/flinkdrop/flinkdrop/uploader"
	"github.com/flinkdrop/flinkdrop/watcher"
)

// tokenFailingUploader accepts every upload except the second, which fails
// the way the client fails when it cannot get a token: the upload request
// itself was never sent, so nothing about the aggregation is in doubt.
type tokenFailingUploader struct {
	mu    sync.Mutex
	calls int
	sent  []string // AggregationID of each upload request that reached the "server"
	aggs  int
}

var _ pipeline.Uploader = (*tokenFailingUploader)(nil)

func (u *tokenFailingUploader) Upload(_ context.Context, r uploader.UploadRequest) (uploader.UploadResult, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.calls++
	if u.calls == 2 {
		return uploader.UploadResult{}, &uploader.Error{Kind: uploader.Transient, Op: "token", HTTPStatus: 503,
			Message: "token endpoint unavailable"}
	}
	data, err := os.ReadFile(r.Path)
	if err != nil {
		return uploader.UploadResult{}, &uploader.Error{Kind: uploader.Local, Op: "upload", Err: err}
	}
	u.sent = append(u.sent, r.AggregationID)
	id := r.AggregationID
	if id == "" {
		u.aggs++
		id = fmt.Sprintf("agg-%d", u.aggs)
	}
	sum := sha256.Sum256(data)
	return uploader.UploadResult{AggregationID: id, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}, nil
}

func (u *tokenFailingUploader) Complete(_ context.Context, id string) (uploader.CompleteResult, error) {
	return uploader.CompleteResult{AggregationID: id, LoginID: "login-" + id}, nil
}

func (u *tokenFailingUploader) FraudAnalysis(context.Context, string) (uploader.FraudResult, error) {
	return uploader.FraudResult{}, fmt.Errorf("fraud polling is off in this test")
}

// TestTokenErrorKeepsAggregation: a transient error while getting a token
// (uploader.Error.Op "token") means the upload request was never sent, so
// the session retries the file on the same aggregation rather than starting
// over (a regression test: it used to abandon the aggregation). It drives
// the pipeline package directly, as the simulator cannot fail a token call
// alone.
func TestTokenErrorKeepsAggregation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	inbox, dirOf := filepath.Join(dir, "inbox"), func(n string) string { return filepath.Join(dir, n) }
	folder := filepath.Join(inbox, "f")
	if err := os.MkdirAll(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	var files []watcher.File
	for i := 1; i <= 3; i++ {
		p := filepath.Join(folder, fmt.Sprintf("%02d.pdf", i))
		if err := os.WriteFile(p, samples.PDF(fmt.Sprintf("token bug %d", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, watcher.File{Path: p, Name: fi.Name(), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	st, err := store.Open(filepath.Join(dir, "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	up := &tokenFailingUploader{}
	p, err := pipeline.New(st, up, pipeline.Options{
		Workers: 1,
		Inboxes: []pipeline.InboxConfig{{Path: inbox, Outbox: dirOf("outbox"), Archive: dirOf("archive"), Failed: dirOf("failed")}},
		Backoff: uploader.Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond},
		Once:    true,
		Log:     zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"outbox", "archive", "failed"} {
		if err := os.MkdirAll(dirOf(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	batches := make(chan watcher.Batch, 1)
	batches <- watcher.Batch{Inbox: inbox, Folder: "f", Dir: folder, Files: files, FirstSeen: time.Now()}
	close(batches)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Run(ctx, batches); err != nil {
		t.Fatalf("Run: %v", err)
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if up.aggs != 1 || len(up.sent) != 3 {
		t.Errorf("after one token error: %d aggregations and %d uploads sent (aggregation ids %q), want 1 and 3: nothing was in doubt",
			up.aggs, len(up.sent), up.sent)
	}
}
