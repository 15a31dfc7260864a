package flinkssim

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

func TestParseUploadBody(t *testing.T) {
	content := []byte(pdfMagic + "hello")
	b64 := base64.StdEncoding.EncodeToString(content)
	tests := []struct {
		name       string
		body       string
		wantErr    bool
		wantStatus int // when wantErr
		wantName   string
		wantAgg    string
		wantTag    string
	}{
		{name: "minimal", body: `{"Files":[{"FileName":"a.pdf","Content":"` + b64 + `"}]}`, wantName: "a.pdf"},
		{name: "all fields and whitespace", body: " {\n\t\"AggregationId\" : \"agg\" , \"Files\" : [ { \"FileName\" : \"a.pdf\" , \"Content\" : \"" + b64 + "\" } ] ,\r\n \"Tag\":\"t\",\"ClientName\":\"c\" } \n", wantName: "a.pdf", wantAgg: "agg", wantTag: "t"},
		{name: "keys in another order", body: `{"Tag":"t","Files":[{"Content":"` + b64 + `","FileName":"a.pdf"}],"AggregationId":"agg"}`, wantName: "a.pdf", wantAgg: "agg", wantTag: "t"},
		{name: "null optional fields", body: `{"AggregationId":null,"Tag":null,"ClientName":null,"Files":[{"FileName":"a.pdf","Content":"` + b64 + `"}]}`, wantName: "a.pdf"},
		{name: "escapes in name", body: `{"Files":[{"FileName":"caf\u00e9 \"q\" \ud83d\ude00.pdf","Content":"` + b64 + `"}]}`, wantName: "café \"q\" 😀.pdf"},
		{name: "unicode escapes in content", body: `{"Files":[{"FileName":"a.pdf","Content":"` + strings.Replace(b64, "J", `\u004a`, 1) + `"}]}`, wantName: "a.pdf"},
		{name: "unknown nested value", body: `{"X":{"a":[1,-2.5e+3,true,false,null,"s",{}],"b":[]},"Files":[{"FileName":"a.pdf","Content":"` + b64 + `","Y":0}]}`, wantName: "a.pdf"},
		{name: "empty content", body: `{"Files":[{"FileName":"a.pdf","Content":""}]}`, wantName: "a.pdf"},
		{name: "empty Files", body: `{"Files":[]}`},

		{name: "empty body", body: ``, wantErr: true, wantStatus: 400},
		{name: "array", body: `[]`, wantErr: true, wantStatus: 400},
		{name: "trailing comma", body: `{"Files":[],}`, wantErr: true, wantStatus: 400},
		{name: "trailing comma in array", body: `{"X":[1,]}`, wantErr: true, wantStatus: 400},
		{name: "single quotes", body: `{'Files':[]}`, wantErr: true, wantStatus: 400},
		{name: "bad number", body: `{"X":01}`, wantErr: true, wantStatus: 400},
		{name: "bad number 2", body: `{"X":1.}`, wantErr: true, wantStatus: 400},
		{name: "bad literal", body: `{"X":tru}`, wantErr: true, wantStatus: 400},
		{name: "raw newline in string", body: "{\"Tag\":\"a\nb\"}", wantErr: true, wantStatus: 400},
		{name: "bad escape", body: `{"Tag":"\x"}`, wantErr: true, wantStatus: 400},
		{name: "lone surrogate", body: `{"Tag":"\ud800"}`, wantErr: true, wantStatus: 400},
		{name: "invalid utf-8", body: "{\"Tag\":\"\xff\"}", wantErr: true, wantStatus: 400},
		{name: "duplicate top key", body: `{"Tag":"a","Tag":"b"}`, wantErr: true, wantStatus: 400},
		{name: "Tag not a string", body: `{"Tag":1}`, wantErr: true, wantStatus: 400},
		{name: "two files", body: `{"Files":[{"FileName":"a.pdf","Content":"` + b64 + `"},{"FileName":"b.pdf","Content":"` + b64 + `"}]}`, wantErr: true, wantStatus: 400},
		{name: "padding in the middle", body: `{"Files":[{"FileName":"a.pdf","Content":"JV==JVBE"}]}`, wantErr: true, wantStatus: 400},
		{name: "three pads", body: `{"Files":[{"FileName":"a.pdf","Content":"J==="}]}`, wantErr: true, wantStatus: 400},
		{name: "non-canonical padding bits", body: `{"Files":[{"FileName":"a.pdf","Content":"JVBERh=="}]}`, wantErr: true, wantStatus: 400},
		{name: "non-ASCII in content", body: `{"Files":[{"FileName":"a.pdf","Content":"JVBE\u00e9i0="}]}`, wantErr: true, wantStatus: 400},
		{name: "unterminated content", body: `{"Files":[{"FileName":"a.pdf","Content":"JVBERi0=`, wantErr: true, wantStatus: 400},
		{name: "too deep", body: strings.Repeat(`{"X":`, 100) + "1" + strings.Repeat("}", 100), wantErr: true, wantStatus: 400},
		{name: "over the file limit", body: `{"Files":[{"FileName":"a.pdf","Content":"` + base64.StdEncoding.EncodeToString(make([]byte, 2000)) + `"}]}`, wantErr: true, wantStatus: 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte at a time, too, so every buffer boundary is crossed.
			for _, r := range []io.Reader{strings.NewReader(tt.body), iotest.OneByteReader(strings.NewReader(tt.body))} {
				got, err := parseUploadBody(r, 1000, nil)
				if tt.wantErr {
					var ae *apiError
					if !errors.As(err, &ae) || ae.status != tt.wantStatus {
						t.Fatalf("parseUploadBody(%.80q) = %v, want a %d", tt.body, err, tt.wantStatus)
					}
					continue
				}
				if err != nil {
					t.Fatalf("parseUploadBody(%.80q) = %v, want success", tt.body, err)
				}
				if got.aggregationID != tt.wantAgg || got.tag != tt.wantTag {
					t.Errorf("aggregation, tag = %q, %q; want %q, %q", got.aggregationID, got.tag, tt.wantAgg, tt.wantTag)
				}
				if tt.wantName == "" {
					if len(got.files) != 0 {
						t.Errorf("files = %d, want 0", len(got.files))
					}
					continue
				}
				if len(got.files) != 1 || got.files[0].name != tt.wantName {
					t.Fatalf("files = %+v, want one named %q", got.files, tt.wantName)
				}
				f := got.files[0]
				if tt.name == "empty content" {
					if f.size != 0 || f.sum != sha256.Sum256(nil) {
						t.Errorf("empty content: size %d, sum %x", f.size, f.sum)
					}
					continue
				}
				if f.size != int64(len(content)) || f.sum != sha256.Sum256(content) || string(f.magic[:f.magicN]) != string(content[:magicLen]) {
					t.Errorf("file = size %d sum %x magic %q, want %d %x %q", f.size, f.sum, f.magic[:f.magicN], len(content), sha256.Sum256(content), content[:magicLen])
				}
			}
		})
	}
}

// TestParseLargeContent crosses many chunk and buffer boundaries with a
// content whose hash is known.
func TestParseLargeContent(t *testing.T) {
	for _, n := range []int{b64ChunkSize/4*3 - 1, b64ChunkSize / 4 * 3, b64ChunkSize/4*3 + 1, 1<<20 + 7} {
		content := make([]byte, n)
		for i := range content {
			content[i] = byte(i*7 + i>>8)
		}
		copy(content, pdfMagic)
		body := uploadJSON(t, "", testFile{"big.pdf", content})
		got, err := parseUploadBody(iotest.HalfReader(bytes.NewReader(body)), 2<<20, nil)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if f := got.files[0]; f.size != int64(n) || f.sum != sha256.Sum256(content) {
			t.Errorf("n=%d: size %d sum %x, want %d %x", n, f.size, f.sum, n, sha256.Sum256(content))
		}
	}
}

func TestParseBodyLimit(t *testing.T) {
	body := `{"Tag":"` + strings.Repeat("a", 100) + `"}`
	r := http.MaxBytesReader(nil, io.NopCloser(strings.NewReader(body)), 50)
	_, err := parseUploadBody(r, 1000, nil)
	var ae *apiError
	if !errors.As(err, &ae) || ae.status != http.StatusRequestEntityTooLarge {
		t.Errorf("body over the server limit: %v, want 413", err)
	}
}

func FuzzUploadBody(f *testing.F) {
	b64 := base64.StdEncoding.EncodeToString([]byte(pdfMagic + "hello"))
	for _, seed := range []string{
		`{"Files":[{"FileName":"a.pdf","Content":"` + b64 + `"}]}`,
		`{"AggregationId":"x","Files":[{"FileName":"a.pdf","Content":"` + b64 + `"}],"Tag":"t","ClientName":"c"}`,
		`{"AggregationId":null,"Files":[{"FileName":"caf\u00e9.pdf","Content":"JVBE\/Ri0="}]}`,
		`{"X":{"a":[1,-2.5e+3,true,false,null,"s\n",{}]},"Files":[]}`,
		`{"Files":[{"FileName":"a.pdf","Content":"JVBERi0="},{"FileName":"b.pdf","Content":""}]}`,
		`{"Files":[{"FileName":"a.pdf","Content":"JV==JVBE"}]}`,
		`{"Files":[{"FileName":"a.pdf","Content":"JVBERh=="}]}`,
		`{"Tag":"\ud83d\ude00"}`, `{"Tag":"\ud800"}`, `{"Tag":"a","Tag":"b"}`,
		`{}`, ``, `[`, `{"Files":[{"Content":"` + strings.Repeat("QUJD", 600) + `"}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := parseUploadBody(bytes.NewReader(body), 1<<20, nil)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.status < 400 || ae.status > 499 || ae.msg == "" {
				t.Fatalf("refusal %v is not a 4xx with a message", err)
			}
			return
		}
		// Accepted: the body must be valid JSON and UTF-8, and what the
		// scanner found must agree with encoding/json and strict base64.
		if !json.Valid(body) || !utf8.Valid(body) {
			t.Fatalf("accepted invalid JSON or UTF-8: %q", body)
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(body, &top); err != nil {
			t.Fatalf("accepted a body that is not an object: %v", err)
		}
		str := func(raw json.RawMessage, name string) (string, bool) {
			if raw == nil || string(raw) == "null" {
				return "", false
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatalf("accepted a non-string %s %s", name, raw)
			}
			return s, true
		}
		if s, ok := str(top["AggregationId"], "AggregationId"); s != got.aggregationID || ok != got.hasAggregationID {
			t.Errorf("AggregationId = %q %v, encoding/json says %q %v", got.aggregationID, got.hasAggregationID, s, ok)
		}
		if s, _ := str(top["Tag"], "Tag"); s != got.tag {
			t.Errorf("Tag = %q, encoding/json says %q", got.tag, s)
		}
		if s, _ := str(top["ClientName"], "ClientName"); s != got.clientName {
			t.Errorf("ClientName = %q, encoding/json says %q", got.clientName, s)
		}
		var files []map[string]json.RawMessage
		if raw := top["Files"]; raw != nil && string(raw) != "null" {
			if err := json.Unmarshal(raw, &files); err != nil {
				t.Fatalf("accepted Files %s that is not an array of objects: %v", raw, err)
			}
		}
		if len(files) != len(got.files) || len(files) > 1 {
			t.Fatalf("files = %d, encoding/json says %d", len(got.files), len(files))
		}
		for i, ff := range files {
			g := got.files[i]
			if s, ok := str(ff["FileName"], "FileName"); s != g.name || ok != g.hasName {
				t.Errorf("FileName = %q, encoding/json says %q", g.name, s)
			}
			c, ok := str(ff["Content"], "Content")
			if ok != g.hasContent {
				t.Errorf("hasContent = %v, encoding/json says %v", g.hasContent, ok)
			}
			if !ok {
				continue
			}
			dec, err := base64.StdEncoding.Strict().DecodeString(c)
			if err != nil || strings.ContainsAny(c, "\r\n") {
				t.Fatalf("accepted Content %q that is not strict base64: %v", c, err)
			}
			if g.size != int64(len(dec)) || g.sum != sha256.Sum256(dec) {
				t.Errorf("content size %d sum %x, want %d %x", g.size, g.sum, len(dec), sha256.Sum256(dec))
			}
			if n := min(len(dec), magicLen); string(g.magic[:g.magicN]) != string(dec[:n]) {
				t.Errorf("magic = %q, want %q", g.magic[:g.magicN], dec[:n])
			}
		}
	})
}
