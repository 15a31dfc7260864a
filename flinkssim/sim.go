package flinkssim

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/clock"
)

// Defaults of Options.
const (
	DefaultClientID        = "sim-client"
	DefaultCustomerID      = "sim-customer"
	DefaultScope           = "ocr.write"
	DefaultTokenLifetime   = 300 * time.Second
	DefaultFraudPolls      = 2
	DefaultMaxFileBytes    = 18 << 20
	DefaultMaxSessionBytes = 180 << 20
	DefaultMaxFiles        = 24
)

// Special values of Options.FraudPolls.
const (
	// FraudNever makes the analysis never complete: a 404 first, then
	// PROCESSING for ever.
	FraudNever = -1
	// FraudImmediate makes the analysis complete at the first poll.
	FraudImmediate = -2
)

// Files with the credentials inside Options.Dir.
const (
	fileClientSecret = "client_secret.txt"
	fileAPIKey       = "api_key.txt"
)

// Bounds on the state the simulator keeps, so a runaway client cannot
// exhaust memory; past them it answers 429.
const (
	maxTokens       = 10000
	maxAggregations = 100000
)

// Options configure a simulator. The zero value of every field means its
// default.
type Options struct {
	// Dir holds the certificates and credential files; they are reused
	// when present and valid. Empty: a temporary folder removed by Close.
	Dir string
	// Addr is the mTLS listener for token, upload and complete.
	// Default "127.0.0.1:0".
	Addr string
	// FraudAddr is the TLS listener (server authentication only) for the
	// fraud analysis. Default "127.0.0.1:0".
	FraudAddr string

	// ClientID defaults to "sim-client". ClientSecret and APIKey default to
	// the contents of their files in Dir, or new random values written
	// there. CustomerID defaults to "sim-customer". Given values are
	// written to the files too, so a config can name them.
	ClientID     string
	ClientSecret string
	APIKey       string
	CustomerID   string
	// Scope is the scope a token request must ask for. Default "ocr.write".
	Scope string
	// TokenLifetime is how long a token lasts on Clock. Default 300s.
	TokenLifetime time.Duration

	// FraudPolls is how many polls of a login answer "not yet" (first a
	// 404, then 200 with status PROCESSING) before COMPLETED. Default 2;
	// FraudNever: never completes; FraudImmediate: completes at once.
	FraudPolls int

	// Faults are injected from the start; SetFaults changes them.
	Faults Faults

	// Clock drives token expiry. Nil: the real clock. Injected latency and
	// certificate validity use the wall clock, as the network and TLS do.
	Clock clock.Clock
	// Log receives debug lines about every request. The zero Logger is silent.
	Log zerolog.Logger

	// MaxFileBytes (default 18 MiB), MaxSessionBytes (180 MiB) and
	// MaxFiles (24) are the limits the upload call enforces.
	MaxFileBytes    int64
	MaxSessionBytes int64
	MaxFiles        int
}

// Faults describe injected failures. Each rate is the probability, 0..1,
// that one API call (token, upload, complete, fraud poll) gets the fault.
type Faults struct {
	// ErrorRate: answer 503 with Retry-After: 1 before doing anything.
	ErrorRate float64
	// ResetRate: close the connection without a reply before doing anything.
	ResetRate float64
	// ResetAfterRate (upload and complete only): apply the call, then close
	// the connection without a reply, as when a reply is lost in flight.
	ResetAfterRate float64
	// Latency is added to every call.
	Latency time.Duration
	// Seed makes the fault sequence repeatable.
	Seed int64
}

// Stats count what the simulator saw.
type Stats struct {
	TokenRequests  int64 // token calls that reached the handler
	Uploads        int64 // uploads accepted
	UploadRejects  int64 // uploads refused with a 4xx
	Completes      int64 // complete calls accepted
	FraudPolls     int64 // fraud-analysis calls that reached the handler
	Resets         int64 // connections closed without a reply
	InjectedErrors int64 // 503s injected
}

// Aggregation is a snapshot of one upload session.
type Aggregation struct {
	ID    string
	Files []AggFile
	// Completed is set by the first successful complete; CompleteCalls
	// counts every complete call naming this aggregation, refused ones too.
	Completed     bool
	CompleteCalls int
	LoginID       string
	// Tag and ClientName are those of the first upload.
	Tag        string
	ClientName string
}

// AggFile is one accepted file of an aggregation.
type AggFile struct {
	Name string
	Size int64
	// SHA256 is the lower-case hex digest of the decoded content.
	SHA256 string
	// Tag and ClientName are those sent with this file's upload.
	Tag        string
	ClientName string
}

// Sim is a running simulator. Its methods are safe for concurrent use.
type Sim struct {
	opts   Options
	log    zerolog.Logger
	clk    clock.Clock
	certs  *certSet
	tmpDir string

	clientSecret string
	apiKey       string
	secretFile   string
	apiKeyFile   string

	api, fraud    *http.Server
	uploadURL     string
	fraudURL      string
	serveDone     sync.WaitGroup
	closeOnce     sync.Once
	bufs          sync.Pool // *scanBuffers
	stats         stats
	mu            sync.Mutex // guards everything below
	faults        Faults
	rng           *mrand.Rand
	tokenLifetime time.Duration
	tokens        map[string]time.Time
	aggs          map[string]*aggregation
	aggOrder      []*aggregation
	logins        map[string]*aggregation
}

type stats struct {
	tokenRequests, uploads, uploadRejects, completes, fraudPolls, resets, injectedErrors atomic.Int64
}

type aggregation struct {
	id            string
	files         []AggFile
	total         int64
	completed     bool
	completeCalls int
	loginID       string
	requestID     string
	tag           string
	clientName    string
	polls         int
}

// Start makes or reuses the certificates, listens on both addresses and
// serves until Close. It returns once both listeners accept connections.
func Start(opts Options) (*Sim, error) {
	if err := checkOptions(&opts); err != nil {
		return nil, err
	}
	s := &Sim{
		opts:          opts,
		log:           opts.Log.With().Str("component", "flinkssim").Logger(),
		clk:           opts.Clock,
		faults:        opts.Faults,
		rng:           newRand(opts.Faults.Seed),
		tokenLifetime: opts.TokenLifetime,
		tokens:        make(map[string]time.Time),
		aggs:          make(map[string]*aggregation),
		logins:        make(map[string]*aggregation),
	}
	s.bufs.New = func() any { return newScanBuffers() }
	if s.clk == nil {
		s.clk = clock.Real()
	}
	dir := opts.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "flinkssim-")
		if err != nil {
			return nil, fmt.Errorf("flinkssim: make a temporary folder (or set Options.Dir): %w", err)
		}
		dir, s.tmpDir = tmp, tmp
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("flinkssim: folder %s: %w", dir, err)
	}
	s.opts.Dir = abs
	if err := s.setUp(); err != nil {
		s.removeTemp()
		return nil, err
	}
	return s, nil
}

func (s *Sim) setUp() error {
	if err := os.MkdirAll(s.opts.Dir, 0o700); err != nil {
		return fmt.Errorf("flinkssim: create the folder %s: %w", s.opts.Dir, err)
	}
	var err error
	s.secretFile = filepath.Join(s.opts.Dir, fileClientSecret)
	s.clientSecret, err = loadOrMakeSecret(s.secretFile, s.opts.ClientSecret, func() (string, error) {
		// '+', '/', '&' and '=' change when URL-escaped, so a client that
		// escapes the secret inside the Basic header is caught.
		r, err := randomHex(16)
		return "sim+" + r + "/&=", err
	})
	if err != nil {
		return err
	}
	s.apiKeyFile = filepath.Join(s.opts.Dir, fileAPIKey)
	s.apiKey, err = loadOrMakeSecret(s.apiKeyFile, s.opts.APIKey, func() (string, error) {
		r, err := randomHex(24)
		return "simkey_" + r, err
	})
	if err != nil {
		return err
	}
	s.certs, err = loadOrMakeCerts(s.opts.Dir, s.log)
	if err != nil {
		return err
	}

	apiLn, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("flinkssim: listen on %s (set another address): %w", s.opts.Addr, err)
	}
	fraudLn, err := net.Listen("tcp", s.opts.FraudAddr)
	if err != nil {
		apiLn.Close()
		return fmt.Errorf("flinkssim: listen on %s for the fraud analysis (set another address): %w", s.opts.FraudAddr, err)
	}
	s.uploadURL = "https://" + urlHost(apiLn.Addr()) + "/api/v1"
	s.fraudURL = "https://" + urlHost(fraudLn.Addr())

	errLog := log.New(debugWriter{s.log}, "", 0)
	s.api = &http.Server{
		Handler: s.apiHandler(),
		TLSConfig: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{s.certs.server},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    s.certs.caPool,
		},
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          errLog,
	}
	s.fraud = &http.Server{
		Handler: s.fraudHandler(),
		TLSConfig: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{s.certs.server},
		},
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          errLog,
	}
	for _, p := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{s.api, apiLn}, {s.fraud, fraudLn}} {
		s.serveDone.Add(1)
		go func() {
			defer s.serveDone.Done()
			if err := p.srv.ServeTLS(p.ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error().Err(err).Str("addr", p.ln.Addr().String()).Msg("simulator server stopped")
			}
		}()
	}
	s.log.Debug().Str("upload_url", s.uploadURL).Str("fraud_url", s.fraudURL).Msg("simulator listening")
	return nil
}

func checkOptions(o *Options) error {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.FraudAddr == "" {
		o.FraudAddr = "127.0.0.1:0"
	}
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.CustomerID == "" {
		o.CustomerID = DefaultCustomerID
	}
	if o.Scope == "" {
		o.Scope = DefaultScope
	}
	if o.TokenLifetime == 0 {
		o.TokenLifetime = DefaultTokenLifetime
	}
	switch {
	case o.FraudPolls == 0:
		o.FraudPolls = DefaultFraudPolls
	case o.FraudPolls < FraudImmediate:
		return fmt.Errorf("%w: FraudPolls %d (want a count, FraudNever or FraudImmediate)", ErrBadOptions, o.FraudPolls)
	}
	if o.MaxFileBytes == 0 {
		o.MaxFileBytes = DefaultMaxFileBytes
	}
	if o.MaxSessionBytes == 0 {
		o.MaxSessionBytes = DefaultMaxSessionBytes
	}
	if o.MaxFiles == 0 {
		o.MaxFiles = DefaultMaxFiles
	}
	if o.TokenLifetime < 0 || o.MaxFileBytes < 0 || o.MaxSessionBytes < 0 || o.MaxFiles < 0 {
		return fmt.Errorf("%w: TokenLifetime and the limits must not be negative", ErrBadOptions)
	}
	if strings.Contains(o.ClientID, ":") {
		return fmt.Errorf("%w: ClientID %q holds a ':', which Basic authentication cannot carry", ErrBadOptions, o.ClientID)
	}
	return checkFaults(o.Faults)
}

func checkFaults(f Faults) error {
	for _, r := range []struct {
		name string
		v    float64
	}{{"ErrorRate", f.ErrorRate}, {"ResetRate", f.ResetRate}, {"ResetAfterRate", f.ResetAfterRate}} {
		if !(r.v >= 0 && r.v <= 1) {
			return fmt.Errorf("%w: Faults.%s %v is outside 0..1", ErrBadOptions, r.name, r.v)
		}
	}
	if f.Latency < 0 {
		return fmt.Errorf("%w: Faults.Latency %v is negative", ErrBadOptions, f.Latency)
	}
	return nil
}

func newRand(seed int64) *mrand.Rand {
	return mrand.New(mrand.NewPCG(uint64(seed), 0x666c696e6b73))
}

// loadOrMakeSecret returns given (writing it to path), else the contents of
// path, else a new value from gen written to path.
func loadOrMakeSecret(path, given string, gen func() (string, error)) (string, error) {
	if given == "" {
		if b, err := os.ReadFile(path); err == nil {
			if v := strings.TrimRight(string(b), "\r\n"); v != "" {
				return v, nil
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("flinkssim: read %s: %w", path, err)
		}
		v, err := gen()
		if err != nil {
			return "", err
		}
		given = v
	}
	if err := writeFile0600(path, []byte(given)); err != nil {
		return "", err
	}
	return given, nil
}

// urlHost is the host:port to put in a URL for a listener: an unspecified
// address is reached on 127.0.0.1, which the server certificate names.
func urlHost(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port))
}

// debugWriter sends the http.Server's own log lines (TLS handshake errors
// and the like) to the logger at debug.
type debugWriter struct{ log zerolog.Logger }

func (d debugWriter) Write(p []byte) (int, error) {
	d.log.Debug().Msg(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Close stops both servers, closing open connections, and removes the
// temporary folder if Start made one.
func (s *Sim) Close() error {
	err := ErrClosed
	s.closeOnce.Do(func() {
		err = errors.Join(s.api.Close(), s.fraud.Close())
		s.serveDone.Wait()
		s.removeTemp()
	})
	return err
}

func (s *Sim) removeTemp() {
	if s.tmpDir != "" {
		if err := os.RemoveAll(s.tmpDir); err != nil {
			s.log.Debug().Err(err).Str("dir", s.tmpDir).Msg("remove the temporary folder")
		}
	}
}

// UploadURL is the base of the token, upload and complete calls:
// https://127.0.0.1:PORT/api/v1.
func (s *Sim) UploadURL() string { return s.uploadURL }

// FraudURL is the base of the fraud-analysis calls: https://127.0.0.1:PORT.
func (s *Sim) FraudURL() string { return s.fraudURL }

// Dir is the absolute folder of the certificates and credential files.
func (s *Sim) Dir() string { return s.opts.Dir }

// Certs returns the certificate files.
func (s *Sim) Certs() Certs { return s.certs.files }

// Credentials returns what a client needs besides certificates.
func (s *Sim) Credentials() (clientID, clientSecret, apiKey, customerID string) {
	return s.opts.ClientID, s.clientSecret, s.apiKey, s.opts.CustomerID
}

// CredentialFiles returns the files holding the client secret and the API
// key, for configs that use client_secret_file and api_key_file.
func (s *Sim) CredentialFiles() (clientSecretFile, apiKeyFile string) {
	return s.secretFile, s.apiKeyFile
}

// SetFaults changes the injected faults; the random sequence restarts from
// f.Seed. An invalid value (a rate outside 0..1) is clamped.
func (s *Sim) SetFaults(f Faults) {
	clamp := func(v float64) float64 { return min(max(v, 0), 1) }
	f.ErrorRate, f.ResetRate, f.ResetAfterRate = clamp(f.ErrorRate), clamp(f.ResetRate), clamp(f.ResetAfterRate)
	f.Latency = max(f.Latency, 0)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.rng = newRand(f.Seed)
}

// SetTokenLifetime changes the lifetime of tokens issued from now on.
func (s *Sim) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenLifetime = d
}

// Stats returns the counters.
func (s *Sim) Stats() Stats {
	return Stats{
		TokenRequests:  s.stats.tokenRequests.Load(),
		Uploads:        s.stats.uploads.Load(),
		UploadRejects:  s.stats.uploadRejects.Load(),
		Completes:      s.stats.completes.Load(),
		FraudPolls:     s.stats.fraudPolls.Load(),
		Resets:         s.stats.resets.Load(),
		InjectedErrors: s.stats.injectedErrors.Load(),
	}
}

// Aggregations returns a snapshot of every aggregation, oldest first.
func (s *Sim) Aggregations() []Aggregation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Aggregation, 0, len(s.aggOrder))
	for _, a := range s.aggOrder {
		out = append(out, Aggregation{
			ID:            a.id,
			Files:         append([]AggFile(nil), a.files...),
			Completed:     a.completed,
			CompleteCalls: a.completeCalls,
			LoginID:       a.loginID,
			Tag:           a.tag,
			ClientName:    a.clientName,
		})
	}
	return out
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newToken returns a random opaque access token.
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
