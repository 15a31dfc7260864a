package uploader

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flinkdrop/flinkdrop/internal/clock"
	"github.com/flinkdrop/flinkdrop/internal/secret"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
)

func TestTokenRequestWireFormat(t *testing.T) {
	f := newFakeFlinks(t)
	var got http.Header
	var body string
	f.set(func() {
		f.onToken = func(w http.ResponseWriter, r *http.Request) {
			got = r.Header.Clone()
			b := new(strings.Builder)
			_, _ = fmt.Fprint(b, readAll(r))
			body = b.String()
			writeJSON(w, 200, map[string]any{"access_token": "abc", "token_type": "Bearer", "expires_in": 300})
		}
	})
	// A secret with characters that URL-escaping would change.
	c := newTestClient(t, f, func(o *Options) { o.ClientSecret = secret.New("p@ss:w/rd+%") })
	if err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("client-id:p@ss:w/rd+%"))
	for _, h := range []struct{ key, want string }{
		{"Authorization", wantAuth},
		{"Content-Type", "application/x-www-form-urlencoded"},
		{"User-Agent", "flinkdrop/test"},
	} {
		if g := got.Get(h.key); g != h.want {
			t.Errorf("token request %s = %q, want %q", h.key, g, h.want)
		}
	}
	if want := "grant_type=client_credentials&scope=ocr.write"; body != want {
		t.Errorf("token request body = %q, want %q", body, want)
	}
}

func readAll(r *http.Request) string {
	b := new(strings.Builder)
	buf := make([]byte, 512)
	for {
		n, err := r.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// TestCommonErrors reproduces every row of the guide's Common Errors table.
func TestCommonErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("400 malformed token request", func(t *testing.T) {
		f := newFakeFlinks(t)
		c := newTestClient(t, f, func(o *Options) { o.Scope = "wrong" })
		err := c.Token(ctx)
		wantKind(t, "Token", err, Credentials)
		if got := HTTPStatusOf(err); got != 400 {
			t.Errorf("HTTPStatusOf = %d, want 400", got)
		}
	})
	t.Run("401 invalid credentials", func(t *testing.T) {
		f := newFakeFlinks(t)
		c := newTestClient(t, f, func(o *Options) { o.ClientSecret = secret.New("wrong-secret") })
		_, err := c.Upload(ctx, UploadRequest{FileName: "a.pdf", Path: tempFile(t, "a.pdf", []byte("%PDF"))})
		wantKind(t, "Upload", err, Credentials)
		if got := HTTPStatusOf(err); got != 401 {
			t.Errorf("HTTPStatusOf = %d, want 401", got)
		}
		if strings.Contains(err.Error(), "wrong-secret") {
			t.Errorf("error %q shows the secret", err)
		}
	})
	t.Run("401 expired token is refreshed once", func(t *testing.T) {
		f := newFakeFlinks(t)
		c := newTestClient(t, f, nil)
		path := tempFile(t, "a.pdf", []byte("%PDF-1.4"))
		if _, err := c.Upload(ctx, UploadRequest{FileName: "a.pdf", Path: path}); err != nil {
			t.Fatal(err)
		}
		f.expireTokens() // the server forgets the token before the client thinks it expired
		res, err := c.Upload(ctx, UploadRequest{FileName: "b.pdf", Path: path})
		if err != nil {
			t.Fatalf("Upload after the server expired the token = %v, want success", err)
		}
		if res.AggregationID == "" {
			t.Error("no AggregationID")
		}
		if got := f.tokenRequests(); got != 2 {
			t.Errorf("token requests = %d, want 2", got)
		}
	})
	t.Run("401 that persists after a refresh", func(t *testing.T) {
		f := newFakeFlinks(t)
		f.set(func() {
			f.onComplete = func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 401, map[string]string{"Message": "nope"}) }
		})
		c := newTestClient(t, f, nil)
		_, err := c.Complete(ctx, "agg-1")
		wantKind(t, "Complete", err, Credentials)
		if got := f.tokenRequests(); got != 2 {
			t.Errorf("token requests = %d, want 2 (one refresh, then give up)", got)
		}
	})
	t.Run("403 certificate not trusted", func(t *testing.T) {
		f := newFakeFlinks(t)
		f.set(func() {
			f.onUpload = func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 403, map[string]string{"Message": "Forbidden"})
			}
		})
		c := newTestClient(t, f, nil)
		_, err := c.Upload(ctx, UploadRequest{FileName: "a.pdf", Path: tempFile(t, "a.pdf", []byte("x"))})
		wantKind(t, "Upload", err, Credentials)
		if got := HTTPStatusOf(err); got != 403 {
			t.Errorf("HTTPStatusOf = %d, want 403", got)
		}
	})
	t.Run("403 on token", func(t *testing.T) {
		f := newFakeFlinks(t)
		f.set(func() {
			f.onToken = func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(403) }
		})
		c := newTestClient(t, f, nil)
		wantKind(t, "Token", c.Token(ctx), Credentials)
	})
	t.Run("certificate from another CA", func(t *testing.T) {
		f := newFakeFlinks(t)
		c := newTestClient(t, f, func(o *Options) { o.TLS.CertFile, o.TLS.KeyFile = f.pki.otherCert, f.pki.otherKey })
		err := c.Token(ctx)
		wantKind(t, "Token", err, Credentials)
		if f.tokenRequests() != 0 {
			t.Errorf("the server handled a request from an untrusted certificate")
		}
	})
	t.Run("server certificate from an unknown CA", func(t *testing.T) {
		f := newFakeFlinks(t)
		c := newTestClient(t, f, func(o *Options) { o.TLS.CAFile = "" })
		wantKind(t, "Token", c.Token(ctx), Credentials)
	})
	t.Run("no certificate sent", func(t *testing.T) {
		f := newFakeFlinks(t)
		c := newTestClient(t, f, nil)
		// Simulate a client that does not attach its certificate.
		c.transport.TLSClientConfig.GetClientCertificate = nil
		err := c.Token(ctx)
		wantKind(t, "Token", err, Credentials)
	})
	t.Run("TLS 1.2 minimum", func(t *testing.T) {
		f := newFakeFlinks(t)
		c := newTestClient(t, f, nil)
		if got := c.transport.TLSClientConfig.MinVersion; got < 0x0303 {
			t.Errorf("MinVersion = %x, want at least TLS 1.2", got)
		}
	})
}

func TestTokenTransientAndProtocol(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		header map[string]string
		want   Kind
		after  time.Duration
	}{
		{"503 with seconds", 503, `{}`, map[string]string{"Retry-After": "7"}, Transient, 7 * time.Second},
		{"429", 429, `{}`, map[string]string{"Retry-After": "120"}, Transient, 2 * time.Minute},
		{"500", 500, `oops`, nil, Transient, 0},
		{"404 wrong url", 404, `{}`, nil, Credentials, 0},
		{"no access_token", 200, `{"token_type":"Bearer","expires_in":300}`, nil, Protocol, 0},
		{"not JSON", 200, `<html>`, nil, Protocol, 0},
		{"negative lifetime", 200, `{"access_token":"a","expires_in":-1}`, nil, Protocol, 0},
		{"other token type", 200, `{"access_token":"a","token_type":"MAC","expires_in":300}`, nil, Protocol, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeFlinks(t)
			f.set(func() {
				f.onToken = func(w http.ResponseWriter, r *http.Request) {
					for k, v := range tt.header {
						w.Header().Set(k, v)
					}
					w.WriteHeader(tt.status)
					_, _ = w.Write([]byte(tt.body))
				}
			})
			c := newTestClient(t, f, nil)
			err := c.Token(context.Background())
			wantKind(t, "Token", err, tt.want)
			if got := RetryAfterOf(err); got != tt.after {
				t.Errorf("RetryAfterOf = %v, want %v", got, tt.after)
			}
		})
	}
}

func TestOneTokenForConcurrentUploads(t *testing.T) {
	f := newFakeFlinks(t)
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	f.set(func() {
		f.onToken = func(w http.ResponseWriter, r *http.Request) {
			<-release // hold the token request until every caller waits
			f.handleToken(w, r)
		}
	})
	c := newTestClient(t, f, nil)
	t.Cleanup(releaseAll) // runs before the server's Close, even on failure
	path := tempFile(t, "a.pdf", []byte("%PDF-1.7 small"))
	const n = 100
	errs := make(chan error, n)
	var started sync.WaitGroup
	for i := range n {
		started.Add(1)
		go func() {
			started.Done()
			_, err := c.Upload(context.Background(), UploadRequest{FileName: fmt.Sprintf("f%d.pdf", i), Path: path})
			errs <- err
		}()
	}
	started.Wait()
	testutil.WaitFor(t, 10*time.Second, "the token request to arrive", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.peerCNs) > 0
	})
	releaseAll()
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("Upload: %v", err)
		}
	}
	if got := f.tokenRequests(); got != 1 {
		t.Errorf("token requests for %d concurrent uploads = %d, want 1", n, got)
	}
	f.mu.Lock()
	uploads := f.uploads
	f.mu.Unlock()
	if uploads != n {
		t.Errorf("uploads = %d, want %d", uploads, n)
	}
}

func TestTokenRefreshBeforeExpiry(t *testing.T) {
	f := newFakeFlinks(t)
	f.set(func() { f.tokenLife = 3 })
	clk := clock.NewFake(testStart)
	c := newTestClient(t, f, func(o *Options) { o.Clock = clk })
	ctx := context.Background()
	if err := c.Token(ctx); err != nil {
		t.Fatal(err)
	}
	firstExpiry := testStart.Add(3 * time.Second)

	clk.Advance(2 * time.Second) // inside the lifetime, before refresh (3s - 3s/5 = 2.4s)
	if err := c.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.tokenRequests(); got != 1 {
		t.Fatalf("token requests at +2s = %d, want 1 (cached)", got)
	}

	clk.Advance(500 * time.Millisecond) // +2.5s: due for refresh, old still valid
	if !clk.Now().Before(firstExpiry) {
		t.Fatal("test bug: the old token has expired already")
	}
	if err := c.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.tokenRequests(); got != 2 {
		t.Fatalf("token requests at +2.5s = %d, want 2 (refreshed before expiry at +3s)", got)
	}
	// The new token is used: the old one is refused by the server now.
	f.set(func() { delete(f.tokens, "tok-1") })
	if _, err := c.Complete(ctx, "agg-x"); KindOf(err) != Rejected {
		t.Fatalf("Complete with the new token = %v, want Rejected (unknown aggregation)", err)
	}
	if got := f.tokenRequests(); got != 2 {
		t.Errorf("token requests = %d, want 2", got)
	}
}

func TestTokenRefreshFailureKeepsValidToken(t *testing.T) {
	f := newFakeFlinks(t)
	clk := clock.NewFake(testStart)
	c := newTestClient(t, f, func(o *Options) { o.Clock = clk })
	ctx := context.Background()
	if err := c.Token(ctx); err != nil {
		t.Fatal(err)
	}
	f.set(func() {
		f.onToken = func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }
	})
	clk.Advance(280 * time.Second) // due for refresh (30s before 300s), still valid
	if err := c.Token(ctx); err != nil {
		t.Errorf("Token while refresh fails but the old one is valid = %v, want nil", err)
	}
	clk.Advance(30 * time.Second) // expired
	if err := c.Token(ctx); KindOf(err) != Transient {
		t.Errorf("Token after expiry with refresh failing = %v, want Transient", err)
	}
}

func TestTokenWaitersHonourContext(t *testing.T) {
	f := newFakeFlinks(t)
	release := make(chan struct{})
	f.set(func() {
		f.onToken = func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			w.WriteHeader(503)
		}
	})
	t.Cleanup(func() { close(release) })
	c := newTestClient(t, f, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Token(ctx) }()
	testutil.WaitFor(t, 10*time.Second, "the token request", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.peerCNs) > 0
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Token after cancel = %v, want context.Canceled", err)
	}
}

func TestRefreshBefore(t *testing.T) {
	tests := []struct {
		opt, life, want time.Duration
	}{
		{0, 300 * time.Second, 30 * time.Second},
		{0, 3 * time.Second, 600 * time.Millisecond},
		{10 * time.Second, 300 * time.Second, 10 * time.Second},
		{time.Hour, 300 * time.Second, 30 * time.Second},
	}
	for _, tt := range tests {
		c := &Client{opts: Options{TokenRefreshBefore: tt.opt}}
		if got := c.refreshBefore(tt.life); got != tt.want {
			t.Errorf("refreshBefore(opt %v, life %v) = %v, want %v", tt.opt, tt.life, got, tt.want)
		}
	}
}

// TestProbeCertificate checks the probe that tells a refused certificate
// from a network fault when a TLS 1.3 alert lost the race with a request.
func TestProbeCertificate(t *testing.T) {
	f := newFakeFlinks(t)
	u, err := url.Parse(f.uploadURL() + "/token")
	if err != nil {
		t.Fatal(err)
	}
	good := newTestClient(t, f, nil)
	if err := good.probeCertificate(context.Background(), u); err != nil {
		t.Errorf("probe with the trusted certificate = %v, want nil", err)
	}
	bad := newTestClient(t, f, func(o *Options) { o.TLS.CertFile, o.TLS.KeyFile = f.pki.otherCert, f.pki.otherKey })
	if err := bad.probeCertificate(context.Background(), u); !isTLSFault(err) {
		t.Errorf("probe with a certificate from another CA = %v, want a TLS fault", err)
	}
	proxied := newTestClient(t, f, func(o *Options) {
		o.TLS.CertFile, o.TLS.KeyFile = f.pki.otherCert, f.pki.otherKey
		o.Proxy = func(*http.Request) (*url.URL, error) { return url.Parse("http://127.0.0.1:1") }
	})
	if err := proxied.probeCertificate(context.Background(), u); err != nil {
		t.Errorf("probe through a proxy = %v, want nil (skipped)", err)
	}
}
