package flinkssim

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// errorBody is the JSON of every refusal, shaped like the API's replies.
type errorBody struct {
	HTTPStatusCode int    `json:"HttpStatusCode"`
	Message        string `json:"Message"`
	// OAuthError and OAuthDescription are set on token refusals, as an
	// OAuth2 server (RFC 6749 §5.2) would.
	OAuthError       string `json:"error,omitempty"`
	OAuthDescription string `json:"error_description,omitempty"`
}

type tokenReply struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

type uploadReply struct {
	HTTPStatusCode int    `json:"HttpStatusCode"`
	AggregationID  string `json:"AggregationId"`
	Message        string `json:"Message"`
}

type completeReply struct {
	HTTPStatusCode int    `json:"HttpStatusCode"`
	AggregationID  string `json:"AggregationId"`
	Login          struct {
		ID string `json:"Id"`
	} `json:"Login"`
	Message string `json:"Message"`
}

// maxSmallBody bounds the token and complete request bodies.
const maxSmallBody = 64 << 10

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, errorBody{HTTPStatusCode: e.status, Message: e.msg})
}

func (s *Sim) apiHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/token", s.withFaults("token", false, s.handleToken))
	mux.HandleFunc("/api/v1/upload", s.withFaults("upload", true, s.handleUpload))
	mux.HandleFunc("/api/v1/upload/complete", s.withFaults("complete", true, s.handleComplete))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{status: http.StatusNotFound, msg: fmt.Sprintf("no such endpoint %s %s", r.Method, r.URL.Path)})
	})
	return mux
}

// rolled are the faults drawn for one call.
type rolled struct {
	latency    time.Duration
	err        bool
	reset      bool
	resetAfter bool
}

func (s *Sim) roll(stateful bool) rolled {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	r := rolled{latency: f.Latency}
	if f.ErrorRate > 0 && s.rng.Float64() < f.ErrorRate {
		r.err = true
		return r
	}
	if f.ResetRate > 0 && s.rng.Float64() < f.ResetRate {
		r.reset = true
		return r
	}
	if stateful && f.ResetAfterRate > 0 && s.rng.Float64() < f.ResetAfterRate {
		r.resetAfter = true
	}
	return r
}

// withFaults applies the injected faults around a handler. A handler gets
// resetAfter true when it must apply the call and then reset.
func (s *Sim) withFaults(call string, stateful bool, h func(w http.ResponseWriter, r *http.Request, resetAfter bool)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f := s.roll(stateful)
		if f.latency > 0 {
			t := time.NewTimer(f.latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		switch {
		case f.err:
			s.stats.injectedErrors.Add(1)
			s.log.Debug().Str("call", call).Msg("injecting 503")
			// Read the body first so the client reliably sees the answer
			// rather than a write error.
			_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, s.maxUploadBody()))
			w.Header().Set("Retry-After", "1")
			writeError(w, &apiError{status: http.StatusServiceUnavailable, msg: "The service is temporarily unavailable (simulated). Retry later."})
			return
		case f.reset:
			s.log.Debug().Str("call", call).Msg("injecting a connection reset")
			s.reset(w)
		}
		h(w, r, f.resetAfter)
	}
}

// reset closes the connection under w without a reply and ends the handler.
func (s *Sim) reset(w http.ResponseWriter) {
	s.stats.resets.Add(1)
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			raw := conn
			if nc, ok := conn.(interface{ NetConn() net.Conn }); ok {
				raw = nc.NetConn()
			}
			if tcp, ok := raw.(*net.TCPConn); ok {
				_ = tcp.SetLinger(0) // send RST, not FIN
			}
			_ = raw.Close()
			panic(http.ErrAbortHandler)
		}
	}
	// HTTP/2: abort the stream.
	panic(http.ErrAbortHandler)
}

func (s *Sim) maxUploadBody() int64 {
	return int64(base64.StdEncoding.EncodedLen(int(s.opts.MaxFileBytes))) + 2*maxStringBytes + 64<<10
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) bool {
	if r.Method == allow {
		return false
	}
	w.Header().Set("Allow", allow)
	writeError(w, &apiError{status: http.StatusMethodNotAllowed, msg: fmt.Sprintf("%s %s is not supported: use %s", r.Method, r.URL.Path, allow)})
	return true
}

// mediaType reports whether the request's Content-Type is want.
func mediaType(r *http.Request, want string) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && strings.EqualFold(mt, want)
}

func equalSecret(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func (s *Sim) handleToken(w http.ResponseWriter, r *http.Request, _ bool) {
	s.stats.tokenRequests.Add(1)
	if methodNotAllowed(w, r, http.MethodPost) {
		return
	}
	refuse := func(status int, code, msg string) {
		s.log.Debug().Int("status", status).Str("reason", msg).Msg("token refused")
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="flinks"`)
		}
		writeJSON(w, status, errorBody{HTTPStatusCode: status, Message: msg, OAuthError: code, OAuthDescription: msg})
	}
	if !mediaType(r, "application/x-www-form-urlencoded") {
		refuse(http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
		return
	}
	id, secret, ok := basicAuth(r.Header.Get("Authorization"))
	if !ok {
		refuse(http.StatusUnauthorized, "invalid_client", "Authorization must be Basic base64(client_id:client_secret)")
		return
	}
	// Both compared in full, byte for byte: an id or secret that was
	// URL-escaped before encoding does not match.
	idOK := equalSecret(id, s.opts.ClientID)
	secretOK := equalSecret(secret, s.clientSecret)
	if !idOK || !secretOK {
		refuse(http.StatusUnauthorized, "invalid_client", "client authentication failed: check the client id and secret")
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxSmallBody+1))
	if err != nil {
		refuse(http.StatusBadRequest, "invalid_request", "request body could not be read")
		return
	}
	if len(raw) > maxSmallBody {
		refuse(http.StatusRequestEntityTooLarge, "invalid_request", "request body is too large")
		return
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		refuse(http.StatusBadRequest, "invalid_request", "request body is not valid form data")
		return
	}
	if gt := form["grant_type"]; len(gt) != 1 || gt[0] != "client_credentials" {
		refuse(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials")
		return
	}
	if sc := form["scope"]; len(sc) != 1 || sc[0] != s.opts.Scope {
		refuse(http.StatusBadRequest, "invalid_scope", fmt.Sprintf("scope must be %s", s.opts.Scope))
		return
	}
	tok, lifetime, err := s.issueToken()
	if err != nil {
		w.Header().Set("Retry-After", "60")
		refuse(http.StatusTooManyRequests, "temporarily_unavailable", err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tokenReply{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(lifetime / time.Second)})
	s.log.Debug().Dur("lifetime", lifetime).Msg("token issued")
}

// basicAuth decodes "Basic base64(id:secret)". Unlike net/http's BasicAuth
// it wants the scheme spelled exactly and the base64 standard and padded.
func basicAuth(h string) (id, secret string, ok bool) {
	enc, found := strings.CutPrefix(h, "Basic ")
	if !found {
		return "", "", false
	}
	dec, err := base64.StdEncoding.Strict().DecodeString(enc)
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(dec), ":")
}

func (s *Sim) issueToken() (string, time.Duration, error) {
	now := s.clk.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tokens) >= maxTokens {
		for t, exp := range s.tokens {
			if !now.Before(exp) {
				delete(s.tokens, t)
			}
		}
		if len(s.tokens) >= maxTokens {
			return "", 0, fmt.Errorf("more than %d live tokens: cache the token instead of asking for one per call", maxTokens)
		}
	}
	tok := newToken()
	s.tokens[tok] = now.Add(s.tokenLifetime)
	return tok, s.tokenLifetime, nil
}

// checkBearer answers 401 and returns false unless the request carries a
// live token.
func (s *Sim) checkBearer(w http.ResponseWriter, r *http.Request) bool {
	tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	msg := "Authorization must be Bearer <access_token>"
	if found {
		now := s.clk.Now()
		s.mu.Lock()
		exp, known := s.tokens[tok]
		if known && !now.Before(exp) {
			delete(s.tokens, tok)
		}
		s.mu.Unlock()
		switch {
		case known && now.Before(exp):
			return true
		case known:
			msg = "the access token has expired: request a new one"
		default:
			msg = "the access token is not valid"
		}
	}
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeError(w, &apiError{status: http.StatusUnauthorized, msg: msg})
	return false
}

// typeOf returns the type an accepted file name's extension (any case)
// stands for, or false when the extension is not accepted.
func typeOf(name string) (kind string, ok bool) {
	switch strings.ToLower(path.Ext(strings.ReplaceAll(name, `\`, "/"))) {
	case ".pdf":
		return "PDF", true
	case ".png":
		return "PNG", true
	case ".jpg", ".jpeg":
		return "JPEG", true
	case ".tif", ".tiff":
		return "TIFF", true
	}
	return "", false
}

func magicMatches(kind string, b []byte) bool {
	s := string(b)
	switch kind {
	case "PDF":
		return strings.HasPrefix(s, "%PDF-")
	case "PNG":
		return strings.HasPrefix(s, "\x89PNG\r\n\x1a\n")
	case "JPEG":
		return strings.HasPrefix(s, "\xFF\xD8\xFF")
	case "TIFF":
		return strings.HasPrefix(s, "II*\x00") || strings.HasPrefix(s, "MM\x00*")
	}
	return false
}

func (s *Sim) handleUpload(w http.ResponseWriter, r *http.Request, resetAfter bool) {
	if methodNotAllowed(w, r, http.MethodPost) {
		return
	}
	if !s.checkBearer(w, r) {
		return
	}
	start := time.Now()
	agg, file, err := s.upload(w, r)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{status: http.StatusInternalServerError, msg: err.Error()}
		}
		if ae.status < 500 {
			s.stats.uploadRejects.Add(1)
		}
		s.log.Debug().Int("status", ae.status).Str("reason", ae.msg).Msg("upload refused")
		writeError(w, ae)
		return
	}
	s.stats.uploads.Add(1)
	s.log.Debug().Str("aggregation_id", agg).Str("file", file.Name).Int64("bytes", file.Size).
		Int64("duration_ms", time.Since(start).Milliseconds()).Msg("file uploaded")
	if resetAfter {
		s.log.Debug().Str("aggregation_id", agg).Msg("upload applied; injecting a connection reset")
		s.reset(w)
	}
	writeJSON(w, http.StatusOK, uploadReply{
		HTTPStatusCode: http.StatusOK,
		AggregationID:  agg,
		Message:        "The files were uploaded successfully. Please send the next file(s).",
	})
}

// upload checks and applies one upload call; it returns the aggregation id.
func (s *Sim) upload(w http.ResponseWriter, r *http.Request) (string, AggFile, error) {
	if !mediaType(r, "application/json") {
		return "", AggFile{}, &apiError{status: http.StatusUnsupportedMediaType, msg: "Content-Type must be application/json"}
	}
	bufs := s.bufs.Get().(*scanBuffers)
	defer s.bufs.Put(bufs)
	body, err := parseUploadBody(http.MaxBytesReader(w, r.Body, s.maxUploadBody()), s.opts.MaxFileBytes, bufs)
	if err != nil {
		return "", AggFile{}, err
	}
	if len(body.files) != 1 {
		return "", AggFile{}, badRequest("Files must hold exactly one file, not %d", len(body.files))
	}
	f := body.files[0]
	switch {
	case !f.hasName || f.name == "":
		return "", AggFile{}, badRequest("Files[0].FileName is required")
	case !f.hasContent:
		return "", AggFile{}, badRequest("Files[0].Content is required")
	}
	kind, ok := typeOf(f.name)
	if !ok {
		return "", AggFile{}, &apiError{status: http.StatusUnsupportedMediaType,
			msg: fmt.Sprintf("Files[0].FileName %q: the file type is not accepted (accepted: pdf, png, jpg, jpeg, tif, tiff)", f.name)}
	}
	if f.size == 0 {
		return "", AggFile{}, badRequest("Files[0].Content is empty: %q has no content", f.name)
	}
	if !magicMatches(kind, f.magic[:f.magicN]) {
		return "", AggFile{}, badRequest("Files[0].Content is not a %s: %q does not match its extension", kind, f.name)
	}
	file := AggFile{Name: f.name, Size: f.size, SHA256: hex.EncodeToString(f.sum[:]), Tag: body.tag, ClientName: body.clientName}

	s.mu.Lock()
	defer s.mu.Unlock()
	var agg *aggregation
	if body.hasAggregationID && body.aggregationID != "" {
		agg = s.aggs[body.aggregationID]
		switch {
		case agg == nil:
			return "", AggFile{}, badRequest("AggregationId %q is unknown: omit it to start a new upload session", body.aggregationID)
		case agg.completed:
			return "", AggFile{}, badRequest("AggregationId %q is already completed: start a new upload session", body.aggregationID)
		case len(agg.files)+1 > s.opts.MaxFiles:
			return "", AggFile{}, badRequest("AggregationId %q already holds %d files, the most a session may have", agg.id, len(agg.files))
		case agg.total+f.size > s.opts.MaxSessionBytes:
			return "", AggFile{}, badRequest("AggregationId %q would exceed %d bytes in total with %q", agg.id, s.opts.MaxSessionBytes, f.name)
		}
	} else {
		if len(s.aggs) >= maxAggregations {
			return "", AggFile{}, &apiError{status: http.StatusTooManyRequests, msg: fmt.Sprintf("more than %d upload sessions", maxAggregations)}
		}
		if f.size > s.opts.MaxSessionBytes {
			return "", AggFile{}, badRequest("%q is larger than the %d bytes a session may hold", f.name, s.opts.MaxSessionBytes)
		}
		agg = &aggregation{id: newUUID(), tag: body.tag, clientName: body.clientName}
		s.aggs[agg.id] = agg
		s.aggOrder = append(s.aggOrder, agg)
	}
	agg.files = append(agg.files, file)
	agg.total += f.size
	return agg.id, file, nil
}

func (s *Sim) handleComplete(w http.ResponseWriter, r *http.Request, resetAfter bool) {
	if methodNotAllowed(w, r, http.MethodPost) {
		return
	}
	if !s.checkBearer(w, r) {
		return
	}
	agg, login, err := s.complete(r)
	if err != nil {
		s.log.Debug().Int("status", err.status).Str("reason", err.msg).Msg("complete refused")
		writeError(w, err)
		return
	}
	s.stats.completes.Add(1)
	s.log.Debug().Str("aggregation_id", agg).Str("login_id", login).Msg("upload session completed")
	if resetAfter {
		s.log.Debug().Str("aggregation_id", agg).Msg("complete applied; injecting a connection reset")
		s.reset(w)
	}
	reply := completeReply{HTTPStatusCode: http.StatusOK, AggregationID: agg,
		Message: "All files were uploaded successfully. The OCR process will start shortly."}
	reply.Login.ID = login
	writeJSON(w, http.StatusOK, reply)
}

func (s *Sim) complete(r *http.Request) (agg, login string, _ *apiError) {
	if !mediaType(r, "application/json") {
		return "", "", &apiError{status: http.StatusUnsupportedMediaType, msg: "Content-Type must be application/json"}
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxSmallBody+1))
	if err != nil {
		return "", "", badRequest("request body could not be read")
	}
	if len(raw) > maxSmallBody {
		return "", "", &apiError{status: http.StatusRequestEntityTooLarge, msg: "request body is too large"}
	}
	var req struct {
		AggregationID *string `json:"AggregationId"`
	}
	if !json.Valid(raw) {
		return "", "", badRequest("request body is not valid JSON")
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return "", "", badRequest("request body must be an object with AggregationId: %v", err)
	}
	if req.AggregationID == nil || *req.AggregationID == "" {
		return "", "", badRequest("AggregationId is required")
	}
	id := *req.AggregationID

	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.aggs[id]
	switch {
	case a == nil:
		return "", "", badRequest("AggregationId %q is unknown", id)
	case a.completed:
		a.completeCalls++
		return "", "", badRequest("AggregationId %q is already completed", id)
	case len(a.files) == 0:
		a.completeCalls++
		return "", "", badRequest("AggregationId %q has no files: upload at least one first", id)
	}
	a.completeCalls++
	a.completed = true
	a.loginID = newUUID()
	a.requestID = newUUID()
	s.logins[a.loginID] = a
	return a.id, a.loginID, nil
}
