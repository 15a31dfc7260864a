package uploader

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/secret"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
)

// testStart is the fake clock's start; the test certificates are valid
// around it (and around the real time, for the TLS server's own checks).
var testStart = time.Now().Truncate(time.Second)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // PEM of cert
}

func newTestCA(t testing.TB, dir, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             testStart.Add(-time.Hour),
		NotAfter:              testStart.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name+"-ca.pem")
	testutil.WriteFile(t, file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return &testCA{cert: cert, key: key, file: file}
}

// leafOpts shapes a certificate issued by a testCA.
type leafOpts struct {
	cn        string
	server    bool
	notBefore time.Time
	notAfter  time.Time
}

// issue makes a certificate and key and writes them as PEM files in dir.
func (ca *testCA) issue(t testing.TB, dir string, o leafOpts) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if o.notBefore.IsZero() {
		o.notBefore = testStart.Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = testStart.Add(12 * time.Hour)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: o.cn},
		NotBefore:    o.notBefore,
		NotAfter:     o.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if o.server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, o.cn+".crt")
	keyFile = filepath.Join(dir, o.cn+".key")
	testutil.WriteFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	testutil.WriteFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	return certFile, keyFile
}

// pki is the certificates of one test: the CA the server trusts, a client
// certificate from it, and one from another CA.
type pki struct {
	dir                   string
	ca                    *testCA
	serverCert, serverKey string
	clientCert, clientKey string
	otherCert, otherKey   string
	serverTLS             tls.Certificate
	clientCAs             *x509.CertPool
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	dir := t.TempDir()
	p := &pki{dir: dir, ca: newTestCA(t, dir, "flinks")}
	p.serverCert, p.serverKey = p.ca.issue(t, dir, leafOpts{cn: "server", server: true})
	p.clientCert, p.clientKey = p.ca.issue(t, dir, leafOpts{cn: "client"})
	other := newTestCA(t, dir, "other")
	p.otherCert, p.otherKey = other.issue(t, dir, leafOpts{cn: "intruder"})
	var err error
	p.serverTLS, err = tls.LoadX509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	p.clientCAs = x509.NewCertPool()
	p.clientCAs.AddCert(p.ca.cert)
	return p
}

// fakeFlinks is a strict mTLS test server for the token, upload, complete
// and fraud calls. Hooks let a test replace a handler.
type fakeFlinks struct {
	t   testing.TB
	srv *httptest.Server
	pki *pki

	clientID, clientSecret, apiKey, customerID string

	mu         sync.Mutex
	tokenLife  int
	tokens     map[string]bool // valid tokens
	tokenN     int
	tokenReqs  int
	uploads    int
	conns      int // connections accepted
	aggN       int
	files      map[string][]uploadedFile // by aggregation id
	peerCNs    []string
	fraud      map[string]string // login id -> reply body
	onToken    http.HandlerFunc
	onUpload   http.HandlerFunc
	onComplete http.HandlerFunc
	onFraud    http.HandlerFunc
	uploadBufs sync.Pool
}

type uploadedFile struct {
	name   string
	size   int64
	sha256 string
}

func newFakeFlinks(t testing.TB) *fakeFlinks {
	t.Helper()
	p := newPKI(t)
	f := &fakeFlinks{
		t: t, pki: p,
		clientID: "client-id", clientSecret: "s3cr:et+/=", apiKey: "api-key", customerID: "cust-1",
		tokenLife: 300,
		tokens:    map[string]bool{},
		files:     map[string][]uploadedFile{},
		fraud:     map[string]string{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/token", f.hook(func() http.HandlerFunc { return f.onToken }, f.handleToken))
	mux.HandleFunc("POST /api/v1/upload", f.hook(func() http.HandlerFunc { return f.onUpload }, f.handleUpload))
	mux.HandleFunc("POST /api/v1/upload/complete", f.hook(func() http.HandlerFunc { return f.onComplete }, f.handleComplete))
	mux.HandleFunc("GET /v3/{customer}/upload/fraudanalysis/{login}", f.hook(func() http.HandlerFunc { return f.onFraud }, f.handleFraud))
	f.srv = httptest.NewUnstartedServer(mux)
	f.srv.TLS = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    p.clientCAs,
		Certificates: []tls.Certificate{p.serverTLS},
	}
	f.srv.Config.ErrorLog = nilLogger()
	f.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.mu.Lock()
			f.conns++
			f.mu.Unlock()
		}
	}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeFlinks) hook(get func() http.HandlerFunc, def http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			f.mu.Lock()
			f.peerCNs = append(f.peerCNs, r.TLS.PeerCertificates[0].Subject.CommonName)
			f.mu.Unlock()
		}
		f.mu.Lock()
		h := get()
		f.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		def(w, r)
	}
}

func (f *fakeFlinks) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

func (f *fakeFlinks) tokenRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenReqs
}

// expireTokens makes every token issued so far invalid.
func (f *fakeFlinks) expireTokens() {
	f.set(func() { f.tokens = map[string]bool{} })
}

func (f *fakeFlinks) uploadURL() string { return f.srv.URL + "/api/v1" }

// options returns client Options that work against f.
func (f *fakeFlinks) options() Options {
	return Options{
		UploadURL:    f.uploadURL(),
		ClientID:     f.clientID,
		ClientSecret: secret.New(f.clientSecret),
		TLS:          TLSFiles{CertFile: f.pki.clientCert, KeyFile: f.pki.clientKey, CAFile: f.pki.ca.file},
		FraudURL:     f.srv.URL,
		CustomerID:   f.customerID,
		APIKey:       secret.New(f.apiKey),
		Log:          zerolog.Nop(),
		UserAgent:    "flinkdrop/test",
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeFlinks) handleToken(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.tokenReqs++
	f.mu.Unlock()
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(f.clientID+":"+f.clientSecret))
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		writeJSON(w, 400, map[string]string{"error": "invalid_request"})
		return
	}
	body, _ := io.ReadAll(r.Body)
	if string(body) != "grant_type=client_credentials&scope=ocr.write" {
		writeJSON(w, 400, map[string]string{"error": "invalid_request", "error_description": "bad body"})
		return
	}
	if r.Header.Get("Authorization") != want {
		writeJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	f.mu.Lock()
	f.tokenN++
	tok := fmt.Sprintf("tok-%d", f.tokenN)
	f.tokens[tok] = true
	life := f.tokenLife
	f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": life})
}

func (f *fakeFlinks) authorised(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	valid := ok && f.tokens[tok]
	f.mu.Unlock()
	if !valid {
		writeJSON(w, 401, map[string]string{"Message": "Unauthorized"})
	}
	return valid
}

// handleUpload decodes the body as a stream (never whole), checking that
// it is the documented JSON with standard base64 content.
func (f *fakeFlinks) handleUpload(w http.ResponseWriter, r *http.Request) {
	if !f.authorised(w, r) {
		return
	}
	agg, file, err := f.decodeUpload(r.Body)
	if err != nil {
		writeJSON(w, 400, map[string]any{"HttpStatusCode": 400, "Message": err.Error()})
		return
	}
	f.mu.Lock()
	f.uploads++
	if agg == "" {
		f.aggN++
		agg = fmt.Sprintf("agg-%d", f.aggN)
	} else if _, ok := f.files[agg]; !ok {
		f.mu.Unlock()
		writeJSON(w, 400, map[string]any{"HttpStatusCode": 400, "Message": "unknown AggregationId"})
		return
	}
	f.files[agg] = append(f.files[agg], file)
	f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"HttpStatusCode": 200, "AggregationId": agg, "Message": "The files were uploaded successfully. Please send the next file(s)."})
}

// decodeUpload reads {"AggregationId"?, "Files":[{"FileName","Content"}],
// "Tag"?, "ClientName"?} token by token, streaming Content through a
// base64 decoder into sha256.
func (f *fakeFlinks) decodeUpload(body io.Reader) (agg string, file uploadedFile, err error) {
	br := bufio.NewReaderSize(body, 64<<10)
	// Everything before "Content":" is small: read it up to the marker.
	const marker = `"Content":"`
	var head bytes.Buffer
	for !bytes.HasSuffix(head.Bytes(), []byte(marker)) {
		c, err := br.ReadByte()
		if err != nil || head.Len() > 64<<10 {
			return "", file, fmt.Errorf("no Content: %v", err)
		}
		head.WriteByte(c)
	}
	var prefix struct {
		AggregationID string `json:"AggregationId"`
		Files         []struct {
			FileName string
		}
	}
	if err := json.Unmarshal(append(head.Bytes(), `"}]}`...), &prefix); err != nil || len(prefix.Files) != 1 {
		return "", file, fmt.Errorf("bad JSON before Content: %v", err)
	}
	h := sha256.New()
	buf, _ := f.uploadBufs.Get().(*[]byte)
	if buf == nil {
		b := make([]byte, 32<<10)
		buf = &b
	}
	defer f.uploadBufs.Put(buf)
	n, err := io.CopyBuffer(h, base64.NewDecoder(base64.StdEncoding, &untilQuote{r: br}), *buf)
	if err != nil {
		return "", file, fmt.Errorf("bad base64: %v", err)
	}
	rest, err := io.ReadAll(br)
	if err != nil {
		return "", file, err
	}
	var suffix struct{ Tag, ClientName string }
	if len(rest) == 0 || rest[0] != '"' {
		return "", file, fmt.Errorf("bad JSON after Content %q", rest)
	}
	if err := json.Unmarshal(append([]byte(`{"x":[{"y":""`), rest[1:]...), &suffix); err != nil {
		return "", file, fmt.Errorf("bad JSON after Content %q: %v", rest, err)
	}
	return prefix.AggregationID, uploadedFile{name: prefix.Files[0].FileName, size: n, sha256: hex.EncodeToString(h.Sum(nil))}, nil
}

// untilQuote reads r up to (not including) the next '"', then EOF.
type untilQuote struct {
	r    *bufio.Reader
	done bool
}

func (u *untilQuote) Read(p []byte) (int, error) {
	if u.done {
		return 0, io.EOF
	}
	peek, err := u.r.Peek(min(len(p), u.r.Buffered()+1))
	if len(peek) == 0 {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	if i := bytes.IndexByte(peek, '"'); i >= 0 {
		n := copy(p, peek[:i])
		_, _ = u.r.Discard(n)
		u.done = true
		return n, nil
	}
	n := copy(p, peek)
	_, _ = u.r.Discard(n)
	return n, nil
}

func (f *fakeFlinks) handleComplete(w http.ResponseWriter, r *http.Request) {
	if !f.authorised(w, r) {
		return
	}
	var req struct{ AggregationId string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, 400, map[string]any{"HttpStatusCode": 400, "Message": "bad JSON"})
		return
	}
	f.mu.Lock()
	_, ok := f.files[req.AggregationId]
	f.mu.Unlock()
	if !ok {
		writeJSON(w, 400, map[string]any{"HttpStatusCode": 400, "Message": "unknown AggregationId"})
		return
	}
	writeJSON(w, 200, map[string]any{"HttpStatusCode": 200, "AggregationId": req.AggregationId,
		"Login": map[string]string{"Id": "login-" + req.AggregationId}, "Message": "All files were uploaded successfully."})
}

func (f *fakeFlinks) handleFraud(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+f.apiKey {
		writeJSON(w, 401, map[string]string{"Message": "bad key"})
		return
	}
	if r.PathValue("customer") != f.customerID {
		writeJSON(w, 403, map[string]string{"Message": "wrong customer"})
		return
	}
	f.mu.Lock()
	body, ok := f.fraud[r.PathValue("login")]
	f.mu.Unlock()
	if !ok {
		writeJSON(w, 404, map[string]string{"Message": "not found"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, body)
}

// newTestClient makes a client for f with opts adjusted by adjust, closed
// at cleanup.
func newTestClient(t testing.TB, f *fakeFlinks, adjust func(*Options)) *Client {
	t.Helper()
	return newClient(t, f.options(), adjust)
}

// newClient makes a client with o adjusted by adjust (when not nil),
// closed at cleanup.
func newClient(t testing.TB, o Options, adjust func(*Options)) *Client {
	t.Helper()
	if adjust != nil {
		adjust(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// tempFile writes data to a new file and returns its path.
func tempFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	testutil.WriteFile(t, p, data)
	return p
}

func wantKind(t testing.TB, what string, err error, want Kind) {
	t.Helper()
	if got := KindOf(err); got != want {
		t.Fatalf("%s: KindOf(%v) = %v, want %v", what, err, got, want)
	}
}

// nilLogger discards the test server's own log (handshake failures the
// tests cause on purpose).
func nilLogger() *log.Logger { return log.New(io.Discard, "", 0) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func secretOf(s string) secret.Value { return secret.New(s) }
