package uploader

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"sync"
)

// Upload streams one file to the upload endpoint and returns the
// aggregation id the server confirmed, with the size and sha256 of the
// bytes sent.
func (c *Client) Upload(ctx context.Context, r UploadRequest) (UploadResult, error) {
	if r.FileName == "" {
		return UploadResult{}, &Error{Kind: Local, Op: "upload", Message: "empty file name"}
	}
	f, err := os.Open(r.Path)
	if err != nil {
		return UploadResult{}, &Error{Kind: Local, Op: "upload", Message: "open " + r.Path, Err: err}
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return UploadResult{}, &Error{Kind: Local, Op: "upload", Message: "stat " + r.Path, Err: err}
	}
	if !fi.Mode().IsRegular() {
		return UploadResult{}, &Error{Kind: Local, Op: "upload", Message: r.Path + " is not a regular file"}
	}
	start := c.clk.Now()
	src := &uploadSource{c: c, path: r.Path, size: fi.Size()}
	src.prefix, src.suffix = uploadEnvelope(r)

	rp, err := c.callAPI(ctx, "upload", func() (exchange, error) {
		body, err := src.open()
		if err != nil {
			return exchange{}, err
		}
		req, err := http.NewRequest(http.MethodPost, c.uploadURL+"/upload", body)
		if err != nil {
			body.Close()
			return exchange{}, err
		}
		req.ContentLength = src.contentLength()
		req.GetBody = func() (io.ReadCloser, error) { return src.open() }
		req.Header.Set("Content-Type", "application/json")
		return exchange{op: "upload", req: req, maxBody: c.opts.MaxReplyBytes, localErr: src.failure}, nil
	})
	if err != nil {
		return UploadResult{}, err
	}
	res, err := parseUploadReply(rp.body, r.AggregationID)
	if err != nil {
		return UploadResult{}, &Error{Kind: Protocol, Op: "upload", HTTPStatus: rp.status, Message: res.Message, Err: err}
	}
	res.Size = src.size
	res.SHA256 = src.lastBody().sum()
	if res.SHA256 == "" {
		// The digest is set before the JSON's closing bytes go out: a
		// server that read the whole body cannot reply before it.
		return UploadResult{}, &Error{Kind: Protocol, Op: "upload", HTTPStatus: rp.status, Message: "the server replied before it read the whole body"}
	}
	c.log.Debug().Str("aggregation_id", res.AggregationID).Str("file", r.FileName).Int64("bytes", res.Size).
		Int64("duration_ms", c.clk.Now().Sub(start).Milliseconds()).Msg("file uploaded")
	return res, nil
}

// Complete closes the aggregation and returns its Login.Id.
func (c *Client) Complete(ctx context.Context, aggregationID string) (CompleteResult, error) {
	if aggregationID == "" {
		return CompleteResult{}, &Error{Kind: Local, Op: "complete", Message: "empty aggregation id"}
	}
	payload, err := json.Marshal(struct {
		AggregationID string `json:"AggregationId"`
	}{aggregationID})
	if err != nil {
		return CompleteResult{}, &Error{Kind: Local, Op: "complete", Err: err}
	}
	rp, err := c.callAPI(ctx, "complete", func() (exchange, error) {
		req, err := http.NewRequest(http.MethodPost, c.uploadURL+"/upload/complete", bytes.NewReader(payload))
		if err != nil {
			return exchange{}, err
		}
		req.Header.Set("Content-Type", "application/json")
		return exchange{op: "complete", req: req, maxBody: c.opts.MaxReplyBytes}, nil
	})
	if err != nil {
		return CompleteResult{}, err
	}
	res, err := parseCompleteReply(rp.body, aggregationID)
	if err != nil {
		return CompleteResult{}, &Error{Kind: Protocol, Op: "complete", HTTPStatus: rp.status, Message: res.Message, Err: err}
	}
	c.log.Debug().Str("aggregation_id", aggregationID).Str("login_id", res.LoginID).Msg("aggregation completed")
	return res, nil
}

// callAPI sends a request built by build with the bearer token. A 401 drops
// the token and sends the request once more with a new one; a second 401 is
// a Credentials error. Non-2xx replies are classified.
func (c *Client) callAPI(ctx context.Context, op string, build func() (exchange, error)) (reply, error) {
	for attempt := 0; ; attempt++ {
		tok, err := c.token(ctx)
		if err != nil {
			return reply{}, err
		}
		x, err := build()
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				return reply{}, err
			}
			return reply{}, &Error{Kind: Local, Op: op, Err: err}
		}
		x.req.Header.Set("Authorization", "Bearer "+tok.Reveal())
		rp, err := c.do(ctx, x)
		if err != nil {
			return reply{}, err
		}
		if rp.status == http.StatusUnauthorized && attempt == 0 {
			c.log.Debug().Str("op", op).Msg("token refused, fetching a new one")
			c.dropToken(tok)
			continue
		}
		if rp.status < 200 || rp.status > 299 {
			e := c.statusError(op, rp)
			if rp.status == http.StatusUnauthorized {
				e.Message = joinMessage(e.Message, "a fresh token was refused too: check flinks.client_id, flinks.client_secret and flinks.scope")
			}
			return reply{}, e
		}
		return rp, nil
	}
}

// uploadReply is the upload endpoint's JSON.
type uploadReply struct {
	HTTPStatusCode int    `json:"HttpStatusCode"`
	AggregationID  string `json:"AggregationId"`
	Message        string `json:"Message"`
}

// parseUploadReply checks an upload reply: HttpStatusCode 200, an
// AggregationId, equal to sent when one was sent.
func parseUploadReply(body []byte, sent string) (UploadResult, error) {
	var raw uploadReply
	if err := json.Unmarshal(body, &raw); err != nil {
		return UploadResult{}, fmt.Errorf("upload reply is not the documented JSON: %w", err)
	}
	res := UploadResult{AggregationID: raw.AggregationID, Message: raw.Message}
	if raw.HTTPStatusCode != http.StatusOK {
		return res, fmt.Errorf("upload reply has HttpStatusCode %d, want 200", raw.HTTPStatusCode)
	}
	if raw.AggregationID == "" {
		return res, errors.New("upload reply has no AggregationId")
	}
	if sent != "" && raw.AggregationID != sent {
		return res, fmt.Errorf("%w: sent %q, got %q", ErrAggregationMismatch, sent, raw.AggregationID)
	}
	return res, nil
}

// parseCompleteReply checks a complete reply: a Login.Id, and the
// AggregationId that was completed.
func parseCompleteReply(body []byte, sent string) (CompleteResult, error) {
	var raw struct {
		HTTPStatusCode int    `json:"HttpStatusCode"`
		AggregationID  string `json:"AggregationId"`
		Message        string `json:"Message"`
		Login          *struct {
			ID string `json:"Id"`
		} `json:"Login"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return CompleteResult{}, fmt.Errorf("complete reply is not the documented JSON: %w", err)
	}
	res := CompleteResult{AggregationID: raw.AggregationID, Message: raw.Message}
	if raw.Login != nil {
		res.LoginID = raw.Login.ID
	}
	if raw.HTTPStatusCode != 0 && raw.HTTPStatusCode != http.StatusOK {
		return res, fmt.Errorf("complete reply has HttpStatusCode %d, want 200", raw.HTTPStatusCode)
	}
	if res.LoginID == "" {
		return res, errors.New("complete reply has no Login.Id")
	}
	if raw.AggregationID != sent {
		return res, fmt.Errorf("%w: completed %q, got %q", ErrAggregationMismatch, sent, raw.AggregationID)
	}
	return res, nil
}

// uploadEnvelope returns the JSON before and after the base64 content.
func uploadEnvelope(r UploadRequest) (prefix, suffix []byte) {
	var p bytes.Buffer
	p.WriteByte('{')
	if r.AggregationID != "" {
		p.WriteString(`"AggregationId":`)
		p.Write(jsonString(r.AggregationID))
		p.WriteByte(',')
	}
	p.WriteString(`"Files":[{"FileName":`)
	p.Write(jsonString(r.FileName))
	p.WriteString(`,"Content":"`)

	var s bytes.Buffer
	s.WriteString(`"}]`)
	if r.Tag != "" {
		s.WriteString(`,"Tag":`)
		s.Write(jsonString(r.Tag))
	}
	if r.ClientName != "" {
		s.WriteString(`,"ClientName":`)
		s.Write(jsonString(r.ClientName))
	}
	s.WriteByte('}')
	return p.Bytes(), s.Bytes()
}

// jsonString is s as a JSON string. Non-ASCII text is kept as UTF-8;
// invalid UTF-8 becomes U+FFFD.
func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// uploadSource makes upload bodies for one file; every body re-opens it.
type uploadSource struct {
	c              *Client
	path           string
	size           int64
	prefix, suffix []byte

	mu   sync.Mutex
	last *uploadBody // the body made last
}

func (s *uploadSource) contentLength() int64 {
	return int64(len(s.prefix)) + int64(base64.StdEncoding.EncodedLen(int(s.size))) + int64(len(s.suffix))
}

func (s *uploadSource) open() (*uploadBody, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, &Error{Kind: Local, Op: "upload", Message: "open " + s.path, Err: err}
	}
	b := &uploadBody{src: s, f: f, remaining: s.size, pending: s.prefix, h: sha256.New()}
	s.mu.Lock()
	s.last = b
	s.mu.Unlock()
	return b, nil
}

func (s *uploadSource) lastBody() *uploadBody {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// failure returns the file fault of the body made last, if any.
func (s *uploadSource) failure() error {
	b := s.lastBody()
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fileErr
}

// uploadBody streams prefix, the file in base64 and suffix, hashing the
// file as it goes, through one pooled buffer. Read and Close may come from
// different goroutines: mu serialises them.
type uploadBody struct {
	src *uploadSource

	mu        sync.Mutex
	f         *os.File
	buf       *streamBuf
	remaining int64  // file bytes still to read
	pending   []byte // bytes ready to hand out
	stage     int    // 0 prefix, 1 file, 2 suffix, 3 done
	h         hash.Hash
	fileErr   error // the file could not be read as sized
	closed    bool
	digest    string // set once the file was read to its end, as sized
}

func (b *uploadBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.pending) == 0 {
		switch {
		case b.fileErr != nil:
			return 0, b.fileErr
		case b.closed:
			return 0, errBodyClosed
		}
		switch b.stage {
		case 0:
			b.stage = 1
		case 1:
			if err := b.fill(); err != nil {
				b.fileErr = err
				b.release()
				return 0, err
			}
		case 2:
			b.pending = b.src.suffix
			b.stage = 3
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	return n, nil
}

// fill reads the next chunk of the file and encodes it into pending, or
// moves to the suffix once the file is read to its stat size. b.mu is held.
func (b *uploadBody) fill() error {
	if b.remaining == 0 {
		// The file must end where its stat said.
		var one [1]byte
		if n, _ := b.f.Read(one[:]); n > 0 {
			return fmt.Errorf("%s: %w: longer than its size %d", b.src.path, ErrFileChanged, b.src.size)
		}
		b.digest = hex.EncodeToString(b.h.Sum(nil))
		b.release()
		b.stage = 2
		return nil
	}
	if b.buf == nil {
		b.buf = b.src.c.bufs.Get().(*streamBuf)
	}
	n := int64(len(b.buf.in))
	if b.remaining < n {
		n = b.remaining
	}
	in := b.buf.in[:n]
	if _, err := io.ReadFull(b.f, in); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: %w: shorter than its size %d", b.src.path, ErrFileChanged, b.src.size)
		}
		return fmt.Errorf("read %s: %w", b.src.path, err)
	}
	b.remaining -= n
	b.h.Write(in)
	out := b.buf.out[:base64.StdEncoding.EncodedLen(int(n))]
	base64.StdEncoding.Encode(out, in)
	b.pending = out
	return nil
}

// release returns the buffer to the pool and closes the file. b.mu is held.
func (b *uploadBody) release() {
	if b.buf != nil {
		if b.stage == 1 {
			b.pending = nil // it points into the buffer
		}
		b.src.c.bufs.Put(b.buf)
		b.buf = nil
	}
	if b.f != nil {
		b.f.Close()
		b.f = nil
	}
}

// Close releases the file and the buffer.
func (b *uploadBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.release()
	return nil
}

// sum returns the file's sha256 once it was read whole, else "".
func (b *uploadBody) sum() string {
	if b == nil {
		return ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.digest
}
