package uploader

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flinkdrop/flinkdrop/internal/clock"
)

func randomFile(t testing.TB, name string, size int) (path string, data []byte) {
	t.Helper()
	data = make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	return tempFile(t, name, data), data
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func TestUploadWireFormat(t *testing.T) {
	tests := []struct {
		name string
		req  UploadRequest
		want string
	}{
		{
			"first file, no extras",
			UploadRequest{FileName: "statement_january.pdf"},
			`{"Files":[{"FileName":"statement_january.pdf","Content":"aGVsbG8="}]}`,
		},
		{
			"later file with unicode and escapes",
			UploadRequest{AggregationID: "d521ae0d", FileName: "relevé \"mars\" 2024\\ñ\t.pdf", Tag: "a<b>&c", ClientName: "Zoë Ünïcode 名前"},
			`{"AggregationId":"d521ae0d","Files":[{"FileName":"relevé \"mars\" 2024\\ñ\t.pdf","Content":"aGVsbG8="}],"Tag":"a<b>&c","ClientName":"Zoë Ünïcode 名前"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeFlinks(t)
			var gotHeader http.Header
			var gotBody []byte
			var gotLen int64
			f.set(func() {
				f.onUpload = func(w http.ResponseWriter, r *http.Request) {
					gotHeader, gotLen = r.Header.Clone(), r.ContentLength
					gotBody, _ = io.ReadAll(r.Body)
					agg := tt.req.AggregationID
					if agg == "" {
						agg = "new-agg"
					}
					writeJSON(w, 200, map[string]any{"HttpStatusCode": 200, "AggregationId": agg, "Message": "ok"})
				}
			})
			c := newTestClient(t, f, nil)
			req := tt.req
			req.Path = tempFile(t, "x.bin", []byte("hello"))
			res, err := c.Upload(context.Background(), req)
			if err != nil {
				t.Fatalf("Upload = %v", err)
			}
			if string(gotBody) != tt.want {
				t.Errorf("body =\n%s\nwant\n%s", gotBody, tt.want)
			}
			if gotLen != int64(len(tt.want)) {
				t.Errorf("Content-Length = %d, want %d", gotLen, len(tt.want))
			}
			wantHeaders := map[string]string{
				"Authorization": "Bearer tok-1",
				"Content-Type":  "application/json",
				"User-Agent":    "flinkdrop/test",
				"Accept":        "application/json",
			}
			for k, want := range wantHeaders {
				if got := gotHeader.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			if gotHeader.Get("Transfer-Encoding") != "" {
				t.Errorf("Transfer-Encoding = %q, want none (exact Content-Length)", gotHeader.Get("Transfer-Encoding"))
			}
			if res.Size != 5 || res.SHA256 != sha([]byte("hello")) || res.Message != "ok" {
				t.Errorf("result = %+v, want size 5, sha256 of hello, message ok", res)
			}
		})
	}
}

func TestUploadRoundTripSizes(t *testing.T) {
	f := newFakeFlinks(t)
	c := newTestClient(t, f, nil)
	ctx := context.Background()
	agg := ""
	for _, size := range []int{0, 1, 2, 3, 4, bufIn - 1, bufIn, bufIn + 1, 3*bufIn + 2, 1 << 20} {
		name := fmt.Sprintf("f-%d-ü.pdf", size)
		path, data := randomFile(t, name, size)
		res, err := c.Upload(ctx, UploadRequest{AggregationID: agg, FileName: name, Path: path, Tag: "t"})
		if err != nil {
			t.Fatalf("Upload(size %d) = %v", size, err)
		}
		agg = res.AggregationID
		if res.Size != int64(size) || res.SHA256 != sha(data) {
			t.Errorf("Upload(size %d) = size %d sha %s, want %d %s", size, res.Size, res.SHA256, size, sha(data))
		}
		f.mu.Lock()
		files := f.files[agg]
		got := files[len(files)-1]
		f.mu.Unlock()
		if got.name != name || got.size != int64(size) || got.sha256 != sha(data) {
			t.Errorf("server got %+v, want name %q size %d sha %s", got, name, size, sha(data))
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.files) != 1 {
		t.Errorf("server has %d aggregations, want 1", len(f.files))
	}
}

func TestUploadRetriesLargeBodyAfter401(t *testing.T) {
	f, c := clientWithForgottenToken(t)
	ctx := context.Background()
	path, data := randomFile(t, "big.pdf", 4<<20)
	res, err := c.Upload(ctx, UploadRequest{FileName: "big.pdf", Path: path})
	if err != nil {
		t.Fatalf("Upload of 4 MiB after the token expired = %v, want success after one refresh", err)
	}
	if res.SHA256 != sha(data) {
		t.Errorf("SHA256 = %s, want %s", res.SHA256, sha(data))
	}
	if got := f.tokenRequests(); got != 2 {
		t.Errorf("token requests = %d, want 2", got)
	}
}

func TestUploadReplies(t *testing.T) {
	tests := []struct {
		name    string
		agg     string
		status  int
		header  map[string]string
		body    string
		want    Kind
		is      error
		message string
		after   time.Duration
	}{
		{"different AggregationId", "agg-1", 200, nil, `{"HttpStatusCode":200,"AggregationId":"agg-2"}`, Protocol, ErrAggregationMismatch, "", 0},
		{"no AggregationId", "", 200, nil, `{"HttpStatusCode":200,"Message":"hm"}`, Protocol, nil, "hm", 0},
		{"no HttpStatusCode", "", 200, nil, `{"AggregationId":"a"}`, Protocol, nil, "", 0},
		{"HttpStatusCode 500 in a 200", "", 200, nil, `{"HttpStatusCode":500,"AggregationId":"a"}`, Protocol, nil, "", 0},
		{"not JSON", "", 200, nil, `<html>ok</html>`, Protocol, nil, "", 0},
		{"400 rejects the file", "", 400, nil, `{"HttpStatusCode":400,"Message":"The file type is not supported."}`, Rejected, nil, "The file type is not supported.", 0},
		{"413 too large", "", 413, nil, `request entity too large`, Rejected, nil, "request entity too large", 0},
		{"408", "", 408, nil, ``, Transient, nil, "", 0},
		{"429 seconds", "", 429, map[string]string{"Retry-After": "30"}, `{}`, Transient, nil, "", 30 * time.Second},
		{"503 HTTP date", "", 503, map[string]string{"Retry-After": testStart.Add(90 * time.Second).UTC().Format(http.TimeFormat)}, `{}`, Transient, nil, "", 90 * time.Second},
		{"502 bad Retry-After", "", 502, map[string]string{"Retry-After": "soon"}, `{}`, Transient, nil, "", 0},
		{"302 redirect not followed", "", 302, map[string]string{"Location": "https://example.invalid/"}, ``, Protocol, nil, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeFlinks(t)
			f.set(func() {
				f.onUpload = func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					for k, v := range tt.header {
						w.Header().Set(k, v)
					}
					w.WriteHeader(tt.status)
					_, _ = io.WriteString(w, tt.body)
				}
			})
			c := newTestClient(t, f, func(o *Options) { o.Clock = clock.NewFake(testStart) })
			_, err := c.Upload(context.Background(), UploadRequest{AggregationID: tt.agg, FileName: "a.pdf", Path: tempFile(t, "a.pdf", []byte("%PDF"))})
			wantKind(t, "Upload", err, tt.want)
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Upload error %v: errors.Is(%v) = false", err, tt.is)
			}
			var e *Error
			errors.As(err, &e)
			if e.HTTPStatus != tt.status {
				t.Errorf("HTTPStatus = %d, want %d", e.HTTPStatus, tt.status)
			}
			if tt.message != "" && e.Message != tt.message {
				t.Errorf("Message = %q, want %q", e.Message, tt.message)
			}
			if e.RetryAfter != tt.after {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tt.after)
			}
		})
	}
}

func TestReplyBodyBounded(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"endless", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			chunk := bytes.Repeat([]byte("a"), 4096)
			for {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}},
		{"declared huge", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(100<<20))
			w.WriteHeader(200)
			_, _ = w.Write([]byte("{"))
		}},
		{"error reply huge", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			_, _ = w.Write(bytes.Repeat([]byte("x"), 200<<10))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeFlinks(t)
			f.set(func() { f.onComplete = tt.handler })
			c := newTestClient(t, f, func(o *Options) { o.MaxReplyBytes = 64 << 10 })
			_, err := c.Complete(context.Background(), "agg-1")
			wantKind(t, "Complete", err, Protocol)
			if !errors.Is(err, ErrReplyTooLarge) {
				t.Errorf("Complete = %v, want ErrReplyTooLarge", err)
			}
		})
	}
}

func TestTimeouts(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		handler func(release <-chan struct{}) http.HandlerFunc
		is      error
	}{
		{"no reply headers", 10, func(release <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
		}, nil},
		{"reply body stalls", 10, func(release <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Length", "100")
				w.WriteHeader(200)
				_, _ = w.Write([]byte(`{"HttpStatusCode":`))
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
		}, ErrIdleTimeout},
		{"request body not read", 24 << 20, func(release <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
		}, ErrIdleTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeFlinks(t)
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			f.set(func() { f.onUpload = tt.handler(release) })
			c := newTestClient(t, f, func(o *Options) {
				o.ResponseHeaderTimeout = 300 * time.Millisecond
				o.IdleBodyTimeout = 300 * time.Millisecond
			})
			path, _ := randomFile(t, "a.pdf", tt.size)
			_, err := c.Upload(context.Background(), UploadRequest{FileName: "a.pdf", Path: path})
			wantKind(t, "Upload", err, Transient)
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Upload = %v, want %v", err, tt.is)
			}
		})
	}
}

func TestContextCancel(t *testing.T) {
	f := newFakeFlinks(t)
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.set(func() {
		f.onComplete = func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case arrived <- struct{}{}:
			default:
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	})
	c := newTestClient(t, f, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Complete(ctx, "agg-1")
		done <- err
	}()
	<-arrived
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Complete after cancel = %v, want context.Canceled", err)
	}
	if KindOf(err) != Unknown {
		t.Errorf("KindOf(cancel) = %v, want Unknown (the caller's own ctx error)", KindOf(err))
	}
}

func TestConnectionRefusedIsTransient(t *testing.T) {
	f := newFakeFlinks(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := newTestClient(t, f, func(o *Options) { o.UploadURL = "https://" + addr + "/api/v1" })
	wantKind(t, "Token", c.Token(context.Background()), Transient)
}

func TestUploadLocalErrors(t *testing.T) {
	f := newFakeFlinks(t)
	c := newTestClient(t, f, nil)
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
	}{
		{"missing", filepath.Join(dir, "missing.pdf")},
		{"directory", dir},
	}
	for _, tt := range tests {
		_, err := c.Upload(context.Background(), UploadRequest{FileName: "x.pdf", Path: tt.path})
		wantKind(t, tt.name, err, Local)
	}
	if got := f.tokenRequests(); got != 0 {
		t.Errorf("token requests = %d, want 0 (nothing to send)", got)
	}
}

// TestUploadFileShrinksWhileSent truncates the file once the server sees the
// request: the client must fail with Local, not send a wrong body.
func TestUploadFileShrinksWhileSent(t *testing.T) {
	f := newFakeFlinks(t)
	path, _ := randomFile(t, "a.pdf", 24<<20)
	got := make(chan error, 1)
	f.set(func() {
		f.onUpload = func(w http.ResponseWriter, r *http.Request) {
			if err := os.Truncate(path, 1000); err != nil {
				t.Error(err)
			}
			_, err := io.Copy(io.Discard, r.Body)
			select {
			case got <- err:
			default: // only the first call is looked at
			}
		}
	})
	c := newTestClient(t, f, nil)
	_, err := c.Upload(context.Background(), UploadRequest{FileName: "a.pdf", Path: path})
	wantKind(t, "Upload", err, Local)
	if !errors.Is(err, ErrFileChanged) {
		t.Errorf("Upload = %v, want ErrFileChanged", err)
	}
	if serverErr := <-got; serverErr == nil {
		t.Error("the server read a complete body, want a cut-off one")
	}
}

func TestUploadBodyDetectsChange(t *testing.T) {
	c := &Client{}
	c.bufs.New = func() any { return new(streamBuf) }
	tests := []struct {
		name        string
		stat, write int
	}{
		{"shorter", 100, 60},
		{"longer", 100, 140},
		{"shorter by one chunk", 3 * bufIn, 2 * bufIn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := randomFile(t, "a.bin", tt.write)
			src := &uploadSource{c: c, path: path, size: int64(tt.stat), prefix: []byte("{"), suffix: []byte("}")}
			b, err := src.open()
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			n, err := io.Copy(io.Discard, b)
			if !errors.Is(err, ErrFileChanged) {
				t.Fatalf("reading body of a file of %d bytes stat'ed at %d: err = %v, want ErrFileChanged", tt.write, tt.stat, err)
			}
			if n >= src.contentLength() {
				t.Errorf("read %d bytes, want fewer than the full %d", n, src.contentLength())
			}
			if !errors.Is(src.failure(), ErrFileChanged) {
				t.Errorf("failure() = %v, want ErrFileChanged", src.failure())
			}
			if b.sum() != "" {
				t.Errorf("sum() = %q, want empty for a body not sent whole", b.sum())
			}
		})
	}
}

func TestUploadEnvelopeIsValidJSON(t *testing.T) {
	names := []string{"a.pdf", "ü\u2028\x00.pdf", "\xff\xfe.pdf", `"; DROP`, strings.Repeat("é", 300)}
	for _, n := range names {
		prefix, suffix := uploadEnvelope(UploadRequest{AggregationID: n, FileName: n, Tag: n, ClientName: n})
		doc := string(prefix) + "QUJD" + string(suffix)
		var v struct {
			AggregationId string
			Files         []struct{ FileName, Content string }
			Tag           string
		}
		if err := jsonUnmarshal([]byte(doc), &v); err != nil {
			t.Errorf("envelope for %q is not JSON: %v\n%s", n, err, doc)
			continue
		}
		if len(v.Files) != 1 || v.Files[0].Content != "QUJD" {
			t.Errorf("envelope for %q parsed as %+v", n, v)
		}
	}
}

func TestKeepAliveReuse(t *testing.T) {
	f := newFakeFlinks(t)
	c := newTestClient(t, f, nil)
	ctx := context.Background()
	path, _ := randomFile(t, "a.pdf", 100<<10)
	agg := ""
	for range 5 {
		res, err := c.Upload(ctx, UploadRequest{AggregationID: agg, FileName: "a.pdf", Path: path})
		if err != nil {
			t.Fatal(err)
		}
		agg = res.AggregationID
	}
	// An error reply with a small body leaves the connection usable too.
	if _, err := c.Complete(ctx, "unknown"); KindOf(err) != Rejected {
		t.Fatalf("Complete(unknown) = %v, want Rejected", err)
	}
	if _, err := c.Complete(ctx, agg); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns != 1 {
		t.Errorf("connections for a token, 5 uploads and 2 completes = %d, want 1 (kept alive)", f.conns)
	}
}

func TestConcurrent401sRefreshOnce(t *testing.T) {
	f, c := clientWithForgottenToken(t)
	ctx := context.Background()
	path := tempFile(t, "a.pdf", []byte("%PDF"))
	const n = 20
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := c.Upload(ctx, UploadRequest{FileName: "a.pdf", Path: path})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Upload = %v", err)
		}
	}
	// A 401 for a token already replaced does not drop the new one.
	if got := f.tokenRequests(); got != 2 {
		t.Errorf("token requests after %d concurrent 401s = %d, want 2", n, got)
	}
}

// TestThroughConnectProxy sends the mTLS calls through an HTTP CONNECT
// proxy, as HTTPS_PROXY would.
func TestThroughConnectProxy(t *testing.T) {
	f := newFakeFlinks(t)
	var tunnels atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		tunnels.Add(1)
		w.WriteHeader(http.StatusOK)
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		go func() {
			_, _ = io.Copy(up, buf)
			up.Close()
		}()
		_, _ = io.Copy(conn, up)
		conn.Close()
	}))
	t.Cleanup(proxy.Close)
	proxyURL, _ := url.Parse(proxy.URL)
	c := newTestClient(t, f, func(o *Options) { o.Proxy = http.ProxyURL(proxyURL) })
	c2 := newTestClient(t, f, func(o *Options) {
		o.Proxy = http.ProxyURL(proxyURL)
		o.TLS.CertFile, o.TLS.KeyFile = f.pki.otherCert, f.pki.otherKey
	})
	if _, err := c.Upload(context.Background(), UploadRequest{FileName: "a.pdf", Path: tempFile(t, "a.pdf", []byte("%PDF"))}); err != nil {
		t.Fatalf("Upload through a CONNECT proxy = %v", err)
	}
	if tunnels.Load() == 0 {
		t.Error("the proxy saw no CONNECT")
	}
	// Through a proxy the TLS 1.3 certificate probe is skipped: a refused
	// certificate is Credentials or, if the alert lost the race with the
	// request, Transient; never a success.
	if err := c2.Token(context.Background()); err == nil {
		t.Error("Token with an untrusted certificate through the proxy succeeded")
	}
}

// TestWatchdogIgnoresLateRequestEOF: the transport may read the request
// body's EOF after the reply arrived; that must not rest the watchdog
// while the reply body is read.
func TestWatchdogIgnoresLateRequestEOF(t *testing.T) {
	fired := make(chan struct{})
	var once sync.Once
	w := newWatchdog(20*time.Millisecond, 20*time.Millisecond, func(error) { once.Do(func() { close(fired) }) })
	defer w.stop()
	w.replyStarted()
	w.requestSent()
	select {
	case <-fired:
	case <-time.After(10 * time.Second):
		t.Fatal("watchdog did not fire: a late request EOF rested it during the reply")
	}
}

func TestUploadReplyBeforeBodyIsProtocol(t *testing.T) {
	f := newFakeFlinks(t)
	f.set(func() {
		f.onUpload = func(w http.ResponseWriter, r *http.Request) {
			// Reply without reading the 8 MiB body.
			writeJSON(w, 200, map[string]any{"HttpStatusCode": 200, "AggregationId": "agg-early"})
		}
	})
	c := newTestClient(t, f, nil)
	path, _ := randomFile(t, "a.pdf", 8<<20)
	_, err := c.Upload(context.Background(), UploadRequest{FileName: "a.pdf", Path: path})
	if err == nil {
		t.Fatal("Upload = nil error for a reply sent before the body was read, want an error")
	}
	if k := KindOf(err); k != Protocol && k != Transient {
		t.Errorf("KindOf(%v) = %v, want Protocol (or Transient if the connection broke first)", err, k)
	}
}

// clientWithForgottenToken returns a fake server and a client holding a
// token that the server has since forgotten, so the next call gets a 401.
func clientWithForgottenToken(t *testing.T) (*fakeFlinks, *Client) {
	t.Helper()
	f := newFakeFlinks(t)
	c := newTestClient(t, f, nil)
	if err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.expireTokens()
	return f, c
}
