package uploader

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/clock"
	"github.com/flinkdrop/flinkdrop/internal/secret"
)

// Options configures a Client. Zero values mean the documented defaults.
type Options struct {
	// UploadURL is the API base, e.g. https://host/api/v1. The token is
	// UploadURL+"/token", uploads go to +"/upload" and +"/upload/complete".
	UploadURL    string
	ClientID     string
	ClientSecret secret.Value
	// Scope is the token scope; default "ocr.write".
	Scope string
	TLS   TLSFiles

	// FraudURL is the fraud host's base; "" means no fraud polling.
	FraudURL   string
	CustomerID string
	APIKey     secret.Value

	// UserAgent is sent on every request; default "flinkdrop/dev".
	UserAgent string
	// Clock drives token expiry, certificate validity and reload checks;
	// nil means clock.Real(). Network timeouts run on real time.
	Clock clock.Clock
	Log   zerolog.Logger

	// DialTimeout (default 10s), TLSHandshakeTimeout (10s),
	// ResponseHeaderTimeout (60s, from the end of the request body) and
	// IdleBodyTimeout (60s without a byte moving in either body).
	DialTimeout           time.Duration
	TLSHandshakeTimeout   time.Duration
	ResponseHeaderTimeout time.Duration
	IdleBodyTimeout       time.Duration
	// MaxReplyBytes bounds reply bodies; default 1 MiB. Fraud replies may
	// be 8 times as large.
	MaxReplyBytes int64
	// TokenRefreshBefore is how long before expiry a token is renewed;
	// default min(30s, lifetime/5).
	TokenRefreshBefore time.Duration
	// Proxy picks the proxy; nil means http.ProxyFromEnvironment.
	Proxy func(*http.Request) (*url.URL, error)
}

const (
	defaultScope         = "ocr.write"
	defaultUserAgent     = "flinkdrop/dev"
	defaultMaxReplyBytes = 1 << 20
	fraudReplyFactor     = 8
	// bufIn is a multiple of 3 so that every chunk but the last encodes
	// without padding; bufOut is its base64 length.
	bufIn  = 48 << 10
	bufOut = 64 << 10
)

// Client calls the Flinks Upload API and the fraud analysis. It is safe for
// concurrent use.
type Client struct {
	opts      Options
	clk       clock.Clock
	log       zerolog.Logger
	uploadURL string
	fraudURL  string
	certs     *certReloader
	transport *http.Transport
	http      *http.Client
	bufs      sync.Pool // *streamBuf
	tokens    tokenCache
	// ctx ends with Close; token fetches shared by many callers run on it.
	ctx    context.Context
	cancel context.CancelFunc
}

type streamBuf struct {
	in  [bufIn]byte
	out [bufOut]byte
}

// New checks the options, loads the client certificate and CA roots, and
// returns a Client. It makes no network call.
func New(opts Options) (*Client, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Scope == "" {
		opts.Scope = defaultScope
	}
	if opts.UserAgent == "" {
		opts.UserAgent = defaultUserAgent
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	if opts.TLSHandshakeTimeout <= 0 {
		opts.TLSHandshakeTimeout = 10 * time.Second
	}
	if opts.ResponseHeaderTimeout <= 0 {
		opts.ResponseHeaderTimeout = 60 * time.Second
	}
	if opts.IdleBodyTimeout <= 0 {
		opts.IdleBodyTimeout = 60 * time.Second
	}
	if opts.MaxReplyBytes <= 0 {
		opts.MaxReplyBytes = defaultMaxReplyBytes
	}
	if opts.Proxy == nil {
		opts.Proxy = http.ProxyFromEnvironment
	}
	uploadURL, err := checkURL("flinks.upload_url", opts.UploadURL, true)
	if err != nil {
		return nil, err
	}
	fraudURL, err := checkURL("flinks.fraud.url", opts.FraudURL, false)
	if err != nil {
		return nil, err
	}
	if opts.ClientID == "" {
		return nil, errors.New("uploader: flinks.client_id is empty (set it to the client id Flinks gave you)")
	}
	if opts.ClientSecret.IsZero() {
		return nil, errors.New("uploader: flinks.client_secret is empty (set it, or client_secret_file, to the secret Flinks gave you)")
	}
	if fraudURL != "" && (opts.CustomerID == "" || opts.APIKey.IsZero()) {
		return nil, errors.New("uploader: flinks.fraud.url is set but customer_id or api_key is empty (set both, or empty the url to skip fraud polling)")
	}
	log := opts.Log.With().Str("component", "uploader").Logger()
	certs, err := newCertReloader(opts.TLS, opts.Clock, log)
	if err != nil {
		return nil, &Error{Kind: Credentials, Op: "tls", Err: err}
	}
	roots, err := loadRoots(opts.TLS.CAFile)
	if err != nil {
		return nil, &Error{Kind: Credentials, Op: "tls", Err: err}
	}
	dialer := &net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:       opts.Proxy,
		DialContext: dialer.DialContext,
		TLSClientConfig: &tls.Config{
			MinVersion:           tls.VersionTLS12,
			RootCAs:              roots,
			GetClientCertificate: certs.getClientCertificate,
		},
		TLSHandshakeTimeout:   opts.TLSHandshakeTimeout,
		ResponseHeaderTimeout: opts.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          32,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		WriteBufferSize:       64 << 10,
		ReadBufferSize:        16 << 10,
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		opts:      opts,
		clk:       opts.Clock,
		log:       log,
		uploadURL: uploadURL,
		fraudURL:  fraudURL,
		certs:     certs,
		transport: tr,
		http: &http.Client{
			Transport: tr,
			// A redirect would resend the bearer token elsewhere: refuse it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		ctx:    ctx,
		cancel: cancel,
	}
	c.bufs.New = func() any { return new(streamBuf) }
	return c, nil
}

func checkURL(key, raw string, required bool) (string, error) {
	if raw == "" {
		if required {
			return "", fmt.Errorf("uploader: %s is empty (set it to the Flinks API base, e.g. https://host/api/v1)", key)
		}
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("uploader: %s %q: not a URL: %w", key, raw, err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("uploader: %s %q: must be an https:// URL with a host (the server is always verified over TLS)", key, raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// Certificate returns the client certificate currently loaded (reloading it
// first if its files changed).
func (c *Client) Certificate() (CertInfo, error) {
	_, info := c.certs.current()
	return info, nil
}

// Close closes idle connections and stops a token fetch in flight.
func (c *Client) Close() {
	c.cancel()
	c.transport.CloseIdleConnections()
}

// exchange is one HTTP request with its body and reply bounded in time and
// size.
type exchange struct {
	op      string
	req     *http.Request
	maxBody int64
	// localErr reports a fault of the request body's source (the file).
	localErr func() error
	trace    *connTrace
}

// connTrace records what the transport did for one exchange.
type connTrace struct {
	fresh, tls13 atomic.Bool
}

func (t *connTrace) clientTrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { t.fresh.Store(!info.Reused) },
		TLSHandshakeDone: func(cs tls.ConnectionState, err error) {
			t.tls13.Store(err == nil && cs.Version == tls.VersionTLS13)
		},
	}
}

// reply is a reply read whole (within the bound).
type reply struct {
	status int
	header http.Header
	body   []byte
}

// do sends x and reads the reply. Errors are *Error, or the caller's
// context error.
func (c *Client) do(ctx context.Context, x exchange) (reply, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Until bytes move, the connection is being set up under its own
	// timeouts: give the watchdog that long on top.
	wd := newWatchdog(c.opts.IdleBodyTimeout, c.opts.IdleBodyTimeout+c.opts.DialTimeout+c.opts.TLSHandshakeTimeout, cancel)
	defer wd.stop()

	var tr connTrace
	ctx = httptrace.WithClientTrace(ctx, tr.clientTrace())
	x.trace = &tr
	req := x.req.WithContext(ctx)
	req.Header.Set("User-Agent", c.opts.UserAgent)
	req.Header.Set("Accept", "application/json")
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &kickReader{r: req.Body, wd: wd, request: true}
		getBody := x.req.GetBody
		if getBody != nil {
			req.GetBody = func() (io.ReadCloser, error) {
				b, err := getBody()
				if err != nil {
					return nil, err
				}
				return &kickReader{r: b, wd: wd, request: true}, nil
			}
		}
	} else {
		// No body to write: the header timeout covers the wait.
		wd.requestSent()
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return reply{}, c.transportError(ctx, x, err)
	}
	defer resp.Body.Close()
	wd.replyStarted()
	if resp.ContentLength > x.maxBody {
		return reply{status: resp.StatusCode}, &Error{Kind: Protocol, Op: x.op, HTTPStatus: resp.StatusCode,
			Message: fmt.Sprintf("reply declares %d bytes, over the %d-byte bound", resp.ContentLength, x.maxBody), Err: ErrReplyTooLarge}
	}
	body, err := io.ReadAll(io.LimitReader(&kickReader{r: resp.Body, wd: wd}, x.maxBody+1))
	if err != nil {
		return reply{status: resp.StatusCode}, c.transportError(ctx, x, err)
	}
	if int64(len(body)) > x.maxBody {
		return reply{status: resp.StatusCode}, &Error{Kind: Protocol, Op: x.op, HTTPStatus: resp.StatusCode,
			Message: fmt.Sprintf("reply is over the %d-byte bound", x.maxBody), Err: ErrReplyTooLarge}
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// transportError classifies an error from sending or receiving.
func (c *Client) transportError(ctx context.Context, x exchange, err error) error {
	if parentErr := context.Cause(ctx); parentErr != nil && !errors.Is(parentErr, ErrIdleTimeout) {
		// The caller's own context ended.
		return fmt.Errorf("%s: %w", x.op, parentErr)
	}
	if x.localErr != nil {
		if lerr := x.localErr(); lerr != nil {
			return &Error{Kind: Local, Op: x.op, Err: lerr}
		}
	}
	if errors.Is(context.Cause(ctx), ErrIdleTimeout) {
		return &Error{Kind: Transient, Op: x.op, Message: fmt.Sprintf("nothing moved for %s", c.opts.IdleBodyTimeout), Err: ErrIdleTimeout}
	}
	if !isTLSFault(err) && x.trace != nil && x.trace.fresh.Load() && x.trace.tls13.Load() && !isTimeout(err) {
		// In TLS 1.3 the server judges our certificate after the client's
		// handshake is over: its alert can lose the race with our request
		// and show as a reset. A handshake that sends nothing after it
		// reads the alert cleanly.
		if perr := c.probeCertificate(ctx, x.req.URL); perr != nil {
			err = fmt.Errorf("%w (then: %w)", perr, err)
		}
	}
	if isTLSFault(err) {
		return &Error{Kind: Credentials, Op: x.op,
			Message: "TLS handshake refused (check flinks.tls.cert_file/key_file hold the certificate Flinks issued, and flinks.tls.ca_file the server's CA)",
			Err:     err}
	}
	return &Error{Kind: Transient, Op: x.op, Err: err}
}

// probeWait is how long a certificate probe waits for the server's alert.
const probeWait = time.Second

// probeCertificate makes one TLS connection to u's host, sends nothing, and
// returns the TLS fault the server answers with, or nil. It is skipped (nil)
// when a proxy is in use.
func (c *Client) probeCertificate(ctx context.Context, u *url.URL) error {
	if proxy, err := c.opts.Proxy(&http.Request{URL: u}); err != nil || proxy != nil {
		return nil
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	cfg := c.transport.TLSClientConfig.Clone()
	cfg.ServerName = u.Hostname()
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: c.opts.DialTimeout}, Config: cfg}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.TLSHandshakeTimeout+probeWait)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if isTLSFault(err) {
			return err
		}
		return nil
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(probeWait))
	var one [1]byte
	if _, err := conn.Read(one[:]); isTLSFault(err) {
		return err
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isTLSFault reports whether err is a TLS handshake failure that a retry
// will not cure: an alert from the server (it refused our certificate), a
// server certificate we do not trust, or a peer that does not speak TLS.
func isTLSFault(err error) bool {
	var (
		opErr    *net.OpError
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		record   tls.RecordHeaderError
		alert    tls.AlertError
	)
	switch {
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		return true
	case errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &invalid),
		errors.As(err, &hostname), errors.As(err, &record), errors.As(err, &alert):
		return true
	}
	return false
}

// statusError classifies a non-success reply of an API call (not token).
func (c *Client) statusError(op string, rp reply) *Error {
	e := &Error{Op: op, HTTPStatus: rp.status, Message: serverMessage(rp.body)}
	switch {
	case rp.status == http.StatusUnauthorized, rp.status == http.StatusForbidden:
		e.Kind = Credentials
		if rp.status == http.StatusForbidden && e.Message == "" {
			e.Message = "forbidden: the server does not accept this client certificate (present the certificate Flinks issued, with its matching key)"
		}
	case rp.status == http.StatusRequestTimeout, rp.status == http.StatusTooManyRequests, rp.status >= 500:
		e.Kind = Transient
		e.RetryAfter = parseRetryAfter(rp.header.Get("Retry-After"), c.clk.Now())
	case rp.status >= 400:
		e.Kind = Rejected
	default:
		e.Kind = Protocol
		if e.Message == "" {
			e.Message = "unexpected HTTP status"
		}
	}
	return e
}

// maxMessage bounds a server message kept in an error.
const maxMessage = 512

// serverMessage extracts a human message from an error reply: the JSON
// Message (or error_description/error), else the start of the body text.
func serverMessage(body []byte) string {
	var m struct {
		Message          string `json:"Message"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	var msg string
	if json.Unmarshal(body, &m) == nil {
		switch {
		case m.Message != "":
			msg = m.Message
		case m.ErrorDescription != "":
			msg = m.ErrorDescription
		default:
			msg = m.Error
		}
	} else {
		msg = strings.TrimSpace(string(body))
	}
	msg = strings.ToValidUTF8(msg, "?")
	if len(msg) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date
// relative to now. Bad or past values give 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		const maxSeconds = int64(24 * time.Hour / time.Second)
		if n > maxSeconds {
			n = maxSeconds
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// watchdog cancels an exchange when no byte moved for d. It runs on real
// time, like the transport's own timeouts. While the request body is out
// and the reply headers are awaited, it rests: ResponseHeaderTimeout rules
// that wait.
type watchdog struct {
	d         time.Duration
	mu        sync.Mutex
	t         *time.Timer
	receiving bool // the reply headers arrived
	done      bool
}

// newWatchdog returns a watchdog that first fires after first, then d after
// the last progress.
func newWatchdog(d, first time.Duration, cancel context.CancelCauseFunc) *watchdog {
	w := &watchdog{d: d}
	w.t = time.AfterFunc(first, func() { cancel(ErrIdleTimeout) })
	return w
}

// progress restarts the wait: bytes moved.
func (w *watchdog) progress() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Reset(w.d)
	}
}

// requestSent rests the watchdog until the reply arrives. The transport may
// read the body's EOF after the reply came: then it changes nothing.
func (w *watchdog) requestSent() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.receiving {
		w.t.Stop()
	}
}

// replyStarted wakes the watchdog for the reply body.
func (w *watchdog) replyStarted() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.receiving = true
	if !w.done {
		w.t.Reset(w.d)
	}
}

func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	w.t.Stop()
}

// kickReader tells the watchdog about every read that moved bytes and, for
// a request body, about its end.
type kickReader struct {
	r       io.ReadCloser
	wd      *watchdog
	request bool
}

func (k *kickReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if n > 0 {
		k.wd.progress()
	}
	if err == io.EOF && k.request {
		k.wd.requestSent()
	}
	return n, err
}

func (k *kickReader) Close() error { return k.r.Close() }
