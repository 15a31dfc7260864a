package flinkssim

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The upload body is parsed by a small hand-written scanner rather than
// encoding/json: the Content value of one file can be 24 MiB of base64, and
// it is decoded as a stream into SHA-256 and the magic-byte check without
// ever being held whole. The scanner still checks the whole document against
// the JSON grammar (RFC 8259), rejects duplicate keys and invalid UTF-8, and
// skips unknown keys as a lenient real API would.

const (
	// maxStringBytes bounds every string value other than Content.
	maxStringBytes = 64 << 10
	// maxKeys bounds the number of keys of one object.
	maxKeys = 256
	// maxDepth bounds the nesting of skipped (unknown) values.
	maxDepth = 64
	// scanBufSize is the read buffer of the scanner.
	scanBufSize = 64 << 10
	// b64ChunkSize is how many base64 characters are decoded at once; a
	// multiple of 4.
	b64ChunkSize = 64 << 10
	// magicLen is how many leading bytes of a file are kept for the type check.
	magicLen = 8
)

// apiError is a refusal with the HTTP status and message the simulator
// answers with.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.status, e.msg) }

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// parsedFile is one entry of Files as the scanner saw it.
type parsedFile struct {
	name       string
	hasName    bool
	hasContent bool
	size       int64
	sum        [sha256.Size]byte
	magic      [magicLen]byte
	magicN     int
}

// uploadBody is a parsed upload request.
type uploadBody struct {
	aggregationID    string
	hasAggregationID bool
	tag              string
	clientName       string
	// files holds the entries of Files; the scanner refuses a second one.
	files    []parsedFile
	hasFiles bool
}

// scanner reads a JSON document from r through its own buffer.
type scanner struct {
	r      io.Reader
	buf    []byte
	pos    int
	end    int
	off    int64 // offset of buf[0] in the stream
	rerr   error
	b64    []byte // pending base64 characters of a Content value
	out    []byte // decoded bytes of one chunk
	h      hash.Hash
	maxLen int64 // largest decoded Content accepted
	tooBig *apiError
	alpha  *[256]bool
}

// scanBuffers are the reusable buffers of one scanner.
type scanBuffers struct {
	buf []byte
	b64 []byte
	out []byte
	// alpha marks the characters of standard base64 (not the padding).
	alpha [256]bool
}

func newScanBuffers() *scanBuffers {
	b := &scanBuffers{
		buf: make([]byte, scanBufSize),
		b64: make([]byte, 0, b64ChunkSize),
		out: make([]byte, base64.StdEncoding.DecodedLen(b64ChunkSize)),
	}
	for _, c := range []byte(b64Chars) {
		b.alpha[c] = true
	}
	return b
}

// b64Chars is the standard base64 alphabet.
const b64Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// parseUploadBody reads one upload request from r. maxFileBytes bounds the
// decoded size of a file; a larger one is refused with 413 as soon as the
// limit is passed. bufs may be nil.
func parseUploadBody(r io.Reader, maxFileBytes int64, bufs *scanBuffers) (uploadBody, error) {
	if bufs == nil {
		bufs = newScanBuffers()
	}
	s := &scanner{
		r:      r,
		buf:    bufs.buf,
		b64:    bufs.b64[:0],
		out:    bufs.out,
		h:      sha256.New(),
		maxLen: maxFileBytes,
		alpha:  &bufs.alpha,
		tooBig: &apiError{
			status: http.StatusRequestEntityTooLarge,
			msg:    fmt.Sprintf("Files[0].Content is larger than the %d bytes a file may have", maxFileBytes),
		},
	}
	var body uploadBody
	if err := s.topObject(&body); err != nil {
		return uploadBody{}, err
	}
	s.skipSpace()
	if _, ok := s.peek(); ok {
		return uploadBody{}, s.syntax("data after the end of the JSON object")
	}
	if s.rerr != nil && !errors.Is(s.rerr, io.EOF) {
		return uploadBody{}, s.readErr()
	}
	return body, nil
}

// fill reads more input; it reports false at the end of input or on error.
func (s *scanner) fill() bool {
	if s.rerr != nil {
		return false
	}
	if s.pos > 0 {
		n := copy(s.buf, s.buf[s.pos:s.end])
		s.off += int64(s.pos)
		s.pos, s.end = 0, n
	}
	for s.end < len(s.buf) {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			s.rerr = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	return true
}

func (s *scanner) peek() (byte, bool) {
	if s.pos >= s.end && !s.fill() {
		return 0, false
	}
	if s.pos >= s.end {
		return 0, false
	}
	return s.buf[s.pos], true
}

func (s *scanner) next() (byte, bool) {
	c, ok := s.peek()
	if ok {
		s.pos++
	}
	return c, ok
}

func (s *scanner) offset() int64 { return s.off + int64(s.pos) }

// readErr turns an input error into the answer: a body over the server's
// limit is a 413, anything else a 400.
func (s *scanner) readErr() error {
	var mbe *http.MaxBytesError
	if errors.As(s.rerr, &mbe) {
		return &apiError{status: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("request body is larger than the %d bytes accepted", mbe.Limit)}
	}
	return badRequest("request body could not be read: %v", s.rerr)
}

func (s *scanner) syntax(what string) error {
	if s.rerr != nil && !errors.Is(s.rerr, io.EOF) {
		return s.readErr()
	}
	return badRequest("request body is not valid JSON: %s at offset %d", what, s.offset())
}

// eof reports the end of input where more was expected.
func (s *scanner) eof() error {
	if s.rerr != nil && !errors.Is(s.rerr, io.EOF) {
		return s.readErr()
	}
	return badRequest("request body is not valid JSON: unexpected end at offset %d", s.offset())
}

func (s *scanner) skipSpace() {
	for {
		c, ok := s.peek()
		if !ok {
			return
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) expect(want byte) error {
	s.skipSpace()
	c, ok := s.next()
	if !ok {
		return s.eof()
	}
	if c != want {
		s.pos--
		return s.syntax(fmt.Sprintf("found %q where %q was expected", c, want))
	}
	return nil
}

// closes consumes end if it is the next character after any space: it
// tells an empty array or object from one with members.
func (s *scanner) closes(end byte) bool {
	s.skipSpace()
	if c, ok := s.peek(); ok && c == end {
		s.pos++
		return true
	}
	return false
}

// more consumes what follows a member of an array or object: a ',' (more
// members follow: true) or end (the last member: false). Anything else is
// a syntax error, reported at that character.
func (s *scanner) more(end byte) (bool, error) {
	s.skipSpace()
	c, ok := s.next()
	if !ok {
		return false, s.eof()
	}
	switch c {
	case ',':
		return true, nil
	case end:
		return false, nil
	default:
		s.pos--
		return false, s.syntax(fmt.Sprintf("found %q where ',' or %q was expected", c, end))
	}
}

// object walks an object, calling member for each key with the scanner
// positioned at the value. Duplicate keys are refused.
func (s *scanner) object(where string, member func(key string) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.closes('}') {
		return nil
	}
	seen := make(map[string]struct{})
	for {
		s.skipSpace()
		c, ok := s.peek()
		if !ok {
			return s.eof()
		}
		if c != '"' {
			return s.syntax(fmt.Sprintf("found %q where a key was expected", c))
		}
		key, err := s.str(where + " key")
		if err != nil {
			return err
		}
		if _, dup := seen[key]; dup {
			return badRequest("%s has the key %q twice", where, key)
		}
		if len(seen) >= maxKeys {
			return badRequest("%s has more than %d keys", where, maxKeys)
		}
		seen[key] = struct{}{}
		if err := s.expect(':'); err != nil {
			return err
		}
		s.skipSpace()
		if err := member(key); err != nil {
			return err
		}
		if more, err := s.more('}'); !more {
			return err
		}
	}
}

// isNull consumes a null literal if one is next.
func (s *scanner) isNull() (bool, error) {
	c, ok := s.peek()
	if !ok {
		return false, s.eof()
	}
	if c != 'n' {
		return false, nil
	}
	return true, s.literal("null")
}

// optString reads field's value, a string or null, into *dst; set is
// false for null, which leaves *dst alone.
func (s *scanner) optString(field string, dst *string) (set bool, err error) {
	null, err := s.isNull()
	if err != nil || null {
		return false, err
	}
	*dst, err = s.stringValue(field)
	return true, err
}

func (s *scanner) topObject(body *uploadBody) error {
	return s.object("the request", func(key string) error {
		switch key {
		case "AggregationId":
			var err error
			body.hasAggregationID, err = s.optString("AggregationId", &body.aggregationID)
			return err
		case "Tag":
			_, err := s.optString("Tag", &body.tag)
			return err
		case "ClientName":
			_, err := s.optString("ClientName", &body.clientName)
			return err
		case "Files":
			null, err := s.isNull()
			if err != nil || null {
				return err
			}
			body.hasFiles = true
			return s.filesArray(body)
		default:
			return s.skipValue(0)
		}
	})
}

func (s *scanner) stringValue(field string) (string, error) {
	c, ok := s.peek()
	if !ok {
		return "", s.eof()
	}
	if c != '"' {
		return "", badRequest("%s must be a string", field)
	}
	return s.str(field)
}

func (s *scanner) filesArray(body *uploadBody) error {
	c, ok := s.peek()
	if !ok {
		return s.eof()
	}
	if c != '[' {
		return badRequest("Files must be an array holding one file")
	}
	s.pos++
	if s.closes(']') {
		return nil
	}
	for {
		if len(body.files) == 1 {
			return badRequest("Files holds more than one file: send one file per request")
		}
		s.skipSpace()
		f, err := s.fileObject(len(body.files))
		if err != nil {
			return err
		}
		body.files = append(body.files, f)
		if more, err := s.more(']'); !more {
			return err
		}
	}
}

func (s *scanner) fileObject(i int) (parsedFile, error) {
	var f parsedFile
	c, ok := s.peek()
	if !ok {
		return f, s.eof()
	}
	if c != '{' {
		return f, badRequest("Files[%d] must be an object with FileName and Content", i)
	}
	where := fmt.Sprintf("Files[%d]", i)
	err := s.object(where, func(key string) error {
		switch key {
		case "FileName":
			set, err := s.optString(where+".FileName", &f.name)
			f.hasName = set && err == nil
			return err
		case "Content":
			null, err := s.isNull()
			if err != nil || null {
				return err
			}
			if c, _ := s.peek(); c != '"' {
				return badRequest("%s.Content must be a base64 string", where)
			}
			s.pos++
			f.hasContent = true
			return s.content(where, &f)
		default:
			return s.skipValue(0)
		}
	})
	return f, err
}

// str reads a string (the opening quote is next) with every escape
// resolved; it refuses invalid UTF-8, control characters and strings over
// maxStringBytes.
func (s *scanner) str(field string) (string, error) {
	if c, ok := s.next(); !ok || c != '"' {
		return "", s.syntax("a string was expected")
	}
	var out []byte
	for {
		// Fast path: copy a run of plain characters.
		if s.pos >= s.end && !s.fill() {
			return "", s.eof()
		}
		if s.pos >= s.end {
			return "", s.eof()
		}
		start := s.pos
		for s.pos < s.end {
			c := s.buf[s.pos]
			if c == '"' || c == '\\' || c < 0x20 {
				break
			}
			s.pos++
		}
		out = append(out, s.buf[start:s.pos]...)
		if len(out) > maxStringBytes {
			return "", badRequest("%s is longer than %d bytes", field, maxStringBytes)
		}
		if s.pos >= s.end {
			continue
		}
		c := s.buf[s.pos]
		s.pos++
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				return "", badRequest("%s is not valid UTF-8", field)
			}
			return string(out), nil
		case c < 0x20:
			s.pos--
			return "", s.syntax("control character in a string")
		default: // backslash
			r, err := s.escape()
			if err != nil {
				return "", err
			}
			out = utf8.AppendRune(out, r)
		}
	}
}

// escape reads what follows a backslash and returns the character.
func (s *scanner) escape() (rune, error) {
	c, ok := s.next()
	if !ok {
		return 0, s.eof()
	}
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, err := s.hex4()
		if err != nil {
			return 0, err
		}
		if !utf16.IsSurrogate(r) {
			return r, nil
		}
		// A surrogate must be a high one followed by \u and a low one.
		if c, ok := s.next(); !ok || c != '\\' {
			return 0, s.syntax("lone UTF-16 surrogate")
		}
		if c, ok := s.next(); !ok || c != 'u' {
			return 0, s.syntax("lone UTF-16 surrogate")
		}
		r2, err := s.hex4()
		if err != nil {
			return 0, err
		}
		dec := utf16.DecodeRune(r, r2)
		if dec == utf8.RuneError {
			return 0, s.syntax("invalid UTF-16 surrogate pair")
		}
		return dec, nil
	default:
		s.pos--
		return 0, s.syntax(fmt.Sprintf("invalid escape \\%c", c))
	}
}

func (s *scanner) hex4() (rune, error) {
	var r rune
	for range 4 {
		c, ok := s.next()
		if !ok {
			return 0, s.eof()
		}
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			s.pos--
			return 0, s.syntax("invalid \\u escape")
		}
		r = r<<4 | rune(v)
	}
	return r, nil
}

// content streams a Content string (after its opening quote) through a
// strict standard base64 decoder into the hash, the size and the magic bytes.
func (s *scanner) content(where string, f *parsedFile) error {
	s.h.Reset()
	s.b64 = s.b64[:0]
	pads := 0
	for {
		if s.pos >= s.end && !s.fill() {
			return s.eof()
		}
		if s.pos >= s.end {
			return s.eof()
		}
		// Fast path: a run of alphabet characters, before any padding.
		if pads == 0 {
			start := s.pos
			lim := s.end
			if room := cap(s.b64) - len(s.b64); lim-start > room {
				lim = start + room
			}
			i := start
			for i < lim && s.alpha[s.buf[i]] {
				i++
			}
			s.b64 = append(s.b64, s.buf[start:i]...)
			s.pos = i
			if len(s.b64) == cap(s.b64) {
				if err := s.flushB64(where, f); err != nil {
					return err
				}
				continue
			}
			if s.pos >= s.end {
				continue
			}
		}
		c := s.buf[s.pos]
		s.pos++
		switch {
		case c == '"':
			if (len(s.b64)+pads)%4 != 0 {
				return badRequest("%s.Content is not valid base64: its length is not a multiple of 4", where)
			}
			for range pads {
				s.b64 = append(s.b64, '=')
			}
			if err := s.flushB64(where, f); err != nil {
				return err
			}
			copy(f.sum[:], s.h.Sum(nil))
			return nil
		case c == '\\':
			r, err := s.escape()
			if err != nil {
				return err
			}
			if r == '=' && pads < 2 {
				pads++
				continue
			}
			if r < 0x80 && s.alpha[r] && pads == 0 {
				s.b64 = append(s.b64, byte(r))
				if len(s.b64) == cap(s.b64) {
					if err := s.flushB64(where, f); err != nil {
						return err
					}
				}
				continue
			}
			return badRequest("%s.Content is not valid base64: it holds the character %q", where, r)
		case c == '=' && pads < 2:
			pads++
		case c < 0x20:
			s.pos--
			return s.syntax("control character in a string")
		case s.alpha[c]:
			return badRequest("%s.Content is not valid base64: data after the padding", where)
		default:
			if c >= 0x80 {
				return badRequest("%s.Content is not valid base64: it holds a non-ASCII byte", where)
			}
			return badRequest("%s.Content is not valid base64: it holds the character %q", where, c)
		}
	}
}

// flushB64 decodes the pending base64 characters. Except at the end, the
// pending length is a multiple of 4 (the chunk size is).
func (s *scanner) flushB64(where string, f *parsedFile) error {
	if len(s.b64) == 0 {
		return nil
	}
	n, err := base64.StdEncoding.Strict().Decode(s.out, s.b64)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return badRequest("%s.Content is not valid base64 near character %d", where, f.size/3*4+int64(ce))
		}
		return badRequest("%s.Content is not valid base64: %v", where, err)
	}
	s.b64 = s.b64[:0]
	dec := s.out[:n]
	if f.magicN < magicLen {
		f.magicN += copy(f.magic[f.magicN:], dec)
	}
	f.size += int64(n)
	if f.size > s.maxLen {
		return s.tooBig
	}
	s.h.Write(dec)
	return nil
}

func (s *scanner) literal(word string) error {
	for i := 0; i < len(word); i++ {
		c, ok := s.next()
		if !ok {
			return s.eof()
		}
		if c != word[i] {
			s.pos--
			return s.syntax("invalid literal")
		}
	}
	return nil
}

// skipValue checks and discards one value of any kind.
func (s *scanner) skipValue(depth int) error {
	if depth > maxDepth {
		return badRequest("request body nests deeper than %d levels", maxDepth)
	}
	s.skipSpace()
	c, ok := s.peek()
	if !ok {
		return s.eof()
	}
	switch {
	case c == '{':
		return s.object("an object", func(string) error { return s.skipValue(depth + 1) })
	case c == '[':
		s.pos++
		if s.closes(']') {
			return nil
		}
		for {
			if err := s.skipValue(depth + 1); err != nil {
				return err
			}
			if more, err := s.more(']'); !more {
				return err
			}
		}
	case c == '"':
		_, err := s.str("a string")
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	default:
		return s.syntax(fmt.Sprintf("found %q where a value was expected", c))
	}
}

// number checks a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	var num []byte
	for {
		c, ok := s.peek()
		if !ok || !(c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || (c >= '0' && c <= '9')) {
			break
		}
		num = append(num, c)
		s.pos++
		if len(num) > 1024 {
			return badRequest("request body holds a number longer than 1024 characters")
		}
	}
	if !validNumber(num) {
		return s.syntax("invalid number " + strconv.Quote(string(num)))
	}
	return nil
}

func validNumber(b []byte) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}
