package flinkssim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.yaml.in/yaml/v3"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/flinkdrop/flinkdrop/internal/clock"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestMutualTLS(t *testing.T) {
	s := startSim(t, Options{})
	c := s.Certs()
	tests := []struct {
		name      string
		cert, key string
		wantOK    bool
	}{
		{"sim client certificate", c.ClientCertFile, c.ClientKeyFile, true},
		{"no client certificate", "", "", false},
		{"certificate from another CA", c.OtherCAClientCertFile, c.OtherCAClientKeyFile, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := tlsClient(t, s, tt.cert, tt.key)
			id, secret, _, _ := s.Credentials()
			r, err := doErr(cl, http.MethodPost, s.UploadURL()+"/token", map[string]string{
				"Authorization": basic(id, secret),
				"Content-Type":  "application/x-www-form-urlencoded",
			}, []byte("grant_type=client_credentials&scope=ocr.write"))
			if tt.wantOK {
				if err != nil || r.status != http.StatusOK {
					t.Fatalf("token = %d, %v; want 200", r.status, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("token = %d, want a TLS handshake failure", r.status)
			}
		})
	}
	// The fraud host asks for no client certificate.
	cl := tlsClient(t, s, "", "")
	_, _, key, customer := s.Credentials()
	if r := pollFraud(t, s, cl, customer, "nope", key); r.status != http.StatusNotFound {
		t.Errorf("fraud poll without client certificate = %d, want 404 (unknown login)", r.status)
	}
}

func TestTokenRules(t *testing.T) {
	s := startSim(t, Options{})
	cl := mtlsClient(t, s)
	id, secret, _, _ := s.Credentials()
	const form = "application/x-www-form-urlencoded"
	const goodBody = "grant_type=client_credentials&scope=ocr.write"
	escaped := "Basic " + basicRaw(url.QueryEscape(id)+":"+url.QueryEscape(secret))
	tests := []struct {
		name       string
		method     string
		auth, ct   string
		body       string
		wantStatus int
		wantError  string
	}{
		{"good", http.MethodPost, basic(id, secret), form, goodBody, 200, ""},
		{"good with charset", http.MethodPost, basic(id, secret), form + "; charset=utf-8", "scope=ocr.write&grant_type=client_credentials", 200, ""},
		{"GET", http.MethodGet, basic(id, secret), form, goodBody, 405, ""},
		{"json content type", http.MethodPost, basic(id, secret), "application/json", goodBody, 400, "invalid_request"},
		{"no content type", http.MethodPost, basic(id, secret), "", goodBody, 400, "invalid_request"},
		{"no authorization", http.MethodPost, "", form, goodBody, 401, "invalid_client"},
		{"wrong secret", http.MethodPost, basic(id, secret+"x"), form, goodBody, 401, "invalid_client"},
		{"wrong id", http.MethodPost, basic("other", secret), form, goodBody, 401, "invalid_client"},
		{"url-escaped secret in Basic", http.MethodPost, escaped, form, goodBody, 401, "invalid_client"},
		{"lower-case scheme", http.MethodPost, "basic " + basicRaw(id+":"+secret), form, goodBody, 401, "invalid_client"},
		{"credentials in the body instead", http.MethodPost, "", form, goodBody + "&client_id=" + url.QueryEscape(id) + "&client_secret=" + url.QueryEscape(secret), 401, "invalid_client"},
		{"no grant_type", http.MethodPost, basic(id, secret), form, "scope=ocr.write", 400, "unsupported_grant_type"},
		{"password grant", http.MethodPost, basic(id, secret), form, "grant_type=password&scope=ocr.write", 400, "unsupported_grant_type"},
		{"no scope", http.MethodPost, basic(id, secret), form, "grant_type=client_credentials", 400, "invalid_scope"},
		{"other scope", http.MethodPost, basic(id, secret), form, "grant_type=client_credentials&scope=ocr.read", 400, "invalid_scope"},
		{"JSON body", http.MethodPost, basic(id, secret), form, `{"grant_type":"client_credentials"}`, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{"Authorization": tt.auth, "Content-Type": tt.ct}
			r := do(t, cl, tt.method, s.UploadURL()+"/token", h, []byte(tt.body))
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", r.status, r.raw, tt.wantStatus)
			}
			if tt.wantStatus != 200 {
				if got := r.body["HttpStatusCode"]; got != float64(tt.wantStatus) {
					t.Errorf("HttpStatusCode = %v, want %d", got, tt.wantStatus)
				}
				if r.str("Message") == "" {
					t.Errorf("Message is empty in %s", r.raw)
				}
				if tt.wantError != "" && r.str("error") != tt.wantError {
					t.Errorf("error = %q, want %q", r.str("error"), tt.wantError)
				}
				if strings.Contains(r.raw, secret) {
					t.Errorf("reply %s shows the secret", r.raw)
				}
				return
			}
			if r.str("token_type") != "Bearer" || r.str("access_token") == "" || r.body["expires_in"] != float64(300) {
				t.Errorf("reply = %s, want a Bearer token expiring in 300", r.raw)
			}
		})
	}
	if got := s.Stats().TokenRequests; got != int64(len(tests)) {
		t.Errorf("Stats().TokenRequests = %d, want %d", got, len(tests))
	}
}

func basicRaw(s string) string {
	return base64.StdEncoding.EncodeToString([]byte(s))
}

func TestDefaultSecretChangesWhenEscaped(t *testing.T) {
	s := startSim(t, Options{})
	_, secret, _, _ := s.Credentials()
	if url.QueryEscape(secret) == secret {
		t.Errorf("default secret %q is unchanged by URL escaping; the escaping check would prove nothing", secret)
	}
}

func TestTokenExpiry(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s := startSim(t, Options{Clock: fake})
	cl := mtlsClient(t, s)
	tok := getToken(t, s, cl)
	body := func() []byte { return uploadJSON(t, "", testFile{"a.pdf", pdf(50)}) }

	if r := upload(t, s, cl, tok, body()); r.status != 200 {
		t.Fatalf("upload with a fresh token = %d %s, want 200", r.status, r.raw)
	}
	fake.Advance(299 * time.Second)
	if r := upload(t, s, cl, tok, body()); r.status != 200 {
		t.Fatalf("upload at 299s = %d %s, want 200", r.status, r.raw)
	}
	fake.Advance(time.Second)
	r := upload(t, s, cl, tok, body())
	if r.status != 401 || !strings.Contains(r.str("Message"), "expired") {
		t.Fatalf("upload at 300s = %d %s, want 401 expired", r.status, r.raw)
	}
	if r := complete(t, s, cl, tok, "x"); r.status != 401 {
		t.Errorf("complete with an expired token = %d, want 401", r.status)
	}
	if r := upload(t, s, cl, "made-up", body()); r.status != 401 {
		t.Errorf("upload with an unknown token = %d, want 401", r.status)
	}
	if r := upload(t, s, cl, "", body()); r.status != 401 {
		t.Errorf("upload without a token = %d, want 401", r.status)
	}

	s.SetTokenLifetime(10 * time.Second)
	id, secret, _, _ := s.Credentials()
	tr := do(t, cl, http.MethodPost, s.UploadURL()+"/token", map[string]string{
		"Authorization": basic(id, secret), "Content-Type": "application/x-www-form-urlencoded",
	}, []byte("grant_type=client_credentials&scope=ocr.write"))
	if tr.body["expires_in"] != float64(10) {
		t.Errorf("expires_in after SetTokenLifetime(10s) = %v, want 10", tr.body["expires_in"])
	}
	tok = tr.str("access_token")
	fake.Advance(10 * time.Second)
	if r := upload(t, s, cl, tok, body()); r.status != 401 {
		t.Errorf("upload 10s after a 10s token = %d, want 401", r.status)
	}
}

func TestUploadRules(t *testing.T) {
	s := startSim(t, Options{MaxFileBytes: 1000})
	cl := mtlsClient(t, s)
	tok := getToken(t, s, cl)
	two := uploadJSON(t, "", testFile{"a.pdf", pdf(10)}, testFile{"b.pdf", pdf(10)})
	tests := []struct {
		name       string
		ct         string
		body       []byte
		wantStatus int
		wantMsg    string
	}{
		{"pdf", "", uploadJSON(t, "", testFile{"a.pdf", pdf(10)}), 200, "uploaded successfully"},
		{"PDF upper case", "", uploadJSON(t, "", testFile{"A.PDF", pdf(10)}), 200, ""},
		{"png", "", uploadJSON(t, "", testFile{"a.png", []byte(pngMagic + "data")}), 200, ""},
		{"jpg", "", uploadJSON(t, "", testFile{"a.jpg", []byte(jpegMagic + "data")}), 200, ""},
		{"jpeg", "", uploadJSON(t, "", testFile{"a.JpEg", []byte(jpegMagic + "data")}), 200, ""},
		{"tif little endian", "", uploadJSON(t, "", testFile{"a.tif", []byte(tiffII + "data")}), 200, ""},
		{"tiff big endian", "", uploadJSON(t, "", testFile{"a.tiff", []byte(tiffMM + "data")}), 200, ""},
		{"exactly the file limit", "", uploadJSON(t, "", testFile{"a.pdf", pdf(1000)}), 200, ""},
		{"charset in content type", "application/json; charset=utf-8", uploadJSON(t, "", testFile{"a.pdf", pdf(10)}), 200, ""},
		{"text content type", "text/plain", uploadJSON(t, "", testFile{"a.pdf", pdf(10)}), 415, "Content-Type"},
		{"docx", "", uploadJSON(t, "", testFile{"a.docx", pdf(10)}), 415, "not accepted"},
		{"no extension", "", uploadJSON(t, "", testFile{"statement", pdf(10)}), 415, "not accepted"},
		{"pdf holding a png", "", uploadJSON(t, "", testFile{"a.pdf", []byte(pngMagic + "data")}), 400, "not a PDF"},
		{"png holding a pdf", "", uploadJSON(t, "", testFile{"a.png", pdf(10)}), 400, "not a PNG"},
		{"jpg holding text", "", uploadJSON(t, "", testFile{"a.jpg", []byte("hello")}), 400, "not a JPEG"},
		{"tiff holding a pdf", "", uploadJSON(t, "", testFile{"a.tiff", pdf(10)}), 400, "not a TIFF"},
		{"short pdf", "", uploadJSON(t, "", testFile{"a.pdf", []byte("%PD")}), 400, "not a PDF"},
		{"empty file", "", uploadJSON(t, "", testFile{"a.pdf", nil}), 400, "empty"},
		{"over the file limit", "", uploadJSON(t, "", testFile{"a.pdf", pdf(1001)}), 413, "larger"},
		{"no files", "", uploadJSON(t, ""), 400, "exactly one file"},
		{"two files", "", two, 400, "more than one file"},
		{"Files missing", "", []byte(`{"Tag":"x"}`), 400, "exactly one file"},
		{"Files not an array", "", []byte(`{"Files":{"FileName":"a.pdf","Content":"JVBERi0="}}`), 400, "array"},
		{"no FileName", "", []byte(`{"Files":[{"Content":"JVBERi0="}]}`), 400, "FileName is required"},
		{"no Content", "", []byte(`{"Files":[{"FileName":"a.pdf"}]}`), 400, "Content is required"},
		{"Content a number", "", []byte(`{"Files":[{"FileName":"a.pdf","Content":12}]}`), 400, "base64 string"},
		{"url-safe base64", "", []byte(`{"Files":[{"FileName":"a.pdf","Content":"JVBERi0-_w=="}]}`), 400, "not valid base64"},
		{"unpadded base64", "", []byte(`{"Files":[{"FileName":"a.pdf","Content":"JVBERi0"}]}`), 400, "not valid base64"},
		{"base64 with a newline escape", "", []byte(`{"Files":[{"FileName":"a.pdf","Content":"JVBE\nRi0="}]}`), 400, "not valid base64"},
		{"base64 with a space", "", []byte(`{"Files":[{"FileName":"a.pdf","Content":"JVBE Ri0="}]}`), 400, "not valid base64"},
		{"escaped slash in base64 is fine", "", []byte(`{"Files":[{"FileName":"a.pdf","Content":"JVBERi0\/"}]}`), 200, ""},
		{"not JSON", "", []byte(`Files=a.pdf`), 400, "not valid JSON"},
		{"truncated JSON", "", []byte(`{"Files":[{"FileName":"a.pdf","Content":"JVBERi0="}]`), 400, "not valid JSON"},
		{"trailing data", "", []byte(`{"Files":[{"FileName":"a.pdf","Content":"JVBERi0="}]} {}`), 400, "not valid JSON"},
		{"duplicate key", "", []byte(`{"Files":[{"FileName":"a.pdf","FileName":"b.pdf","Content":"JVBERi0="}]}`), 400, "twice"},
		{"unknown key is ignored", "", []byte(`{"Extra":[1,{"a":null}],"Files":[{"FileName":"a.pdf","Content":"JVBERi0="}]}`), 200, ""},
		{"unknown aggregation", "", uploadJSON(t, "0b1e5a7e-0000-4000-8000-000000000000", testFile{"a.pdf", pdf(10)}), 400, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.ct
			if ct == "" {
				ct = "application/json"
			}
			r := do(t, cl, http.MethodPost, s.UploadURL()+"/upload", map[string]string{
				"Authorization": "Bearer " + tok, "Content-Type": ct,
			}, tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", r.status, r.raw, tt.wantStatus)
			}
			if got := r.body["HttpStatusCode"]; got != float64(tt.wantStatus) {
				t.Errorf("HttpStatusCode = %v, want %d", got, tt.wantStatus)
			}
			if !strings.Contains(r.str("Message"), tt.wantMsg) {
				t.Errorf("Message = %q, want it to hold %q", r.str("Message"), tt.wantMsg)
			}
			if tt.wantStatus == 200 && !uuidRE.MatchString(r.str("AggregationId")) {
				t.Errorf("AggregationId = %q, want a UUID", r.str("AggregationId"))
			}
		})
	}
	var ok, refused int64
	for _, tt := range tests {
		if tt.wantStatus == 200 {
			ok++
		} else {
			refused++
		}
	}
	if st := s.Stats(); st.Uploads != ok || st.UploadRejects != refused {
		t.Errorf("Stats() uploads/rejects = %d/%d, want %d/%d", st.Uploads, st.UploadRejects, ok, refused)
	}
	if got := len(s.Aggregations()); got != int(ok) {
		t.Errorf("len(Aggregations()) = %d, want %d (refused uploads make none)", got, ok)
	}
}

func TestUploadSession(t *testing.T) {
	s := startSim(t, Options{MaxFiles: 3, MaxSessionBytes: 1000})
	cl := mtlsClient(t, s)
	tok := getToken(t, s, cl)

	files := []testFile{{"jan.pdf", pdf(300)}, {"feb.pdf", pdf(400)}, {"mar.pdf", pdf(300)}}
	agg := ""
	for i, f := range files {
		r := upload(t, s, cl, tok, uploadJSON(t, agg, f))
		if r.status != 200 {
			t.Fatalf("upload %d: %d %s", i, r.status, r.raw)
		}
		if agg != "" && r.str("AggregationId") != agg {
			t.Fatalf("upload %d: AggregationId = %q, want %q", i, r.str("AggregationId"), agg)
		}
		agg = r.str("AggregationId")
	}
	// A fourth file breaks the file count; a bigger one the session size.
	if r := upload(t, s, cl, tok, uploadJSON(t, agg, testFile{"apr.pdf", pdf(10)})); r.status != 400 {
		t.Errorf("4th file with MaxFiles 3 = %d %s, want 400", r.status, r.raw)
	}
	s2 := startSim(t, Options{MaxSessionBytes: 1000})
	cl2 := mtlsClient(t, s2)
	tok2 := getToken(t, s2, cl2)
	a2 := upload(t, s2, cl2, tok2, uploadJSON(t, "", testFile{"a.pdf", pdf(600)})).str("AggregationId")
	if r := upload(t, s2, cl2, tok2, uploadJSON(t, a2, testFile{"b.pdf", pdf(401)})); r.status != 400 || !strings.Contains(r.str("Message"), "exceed") {
		t.Errorf("file past the session size = %d %s, want 400 exceed", r.status, r.raw)
	}
	if r := upload(t, s2, cl2, tok2, uploadJSON(t, a2, testFile{"b.pdf", pdf(400)})); r.status != 200 {
		t.Errorf("file up to the session size = %d %s, want 200", r.status, r.raw)
	}

	got := s.Aggregations()
	if len(got) != 1 {
		t.Fatalf("Aggregations() = %d, want 1", len(got))
	}
	a := got[0]
	if a.ID != agg || a.Completed || a.Tag != "tag-1" || a.ClientName != "Client One" {
		t.Errorf("aggregation = %+v, want id %s, not completed, tag-1, Client One", a, agg)
	}
	if len(a.Files) != len(files) {
		t.Fatalf("files = %d, want %d", len(a.Files), len(files))
	}
	for i, f := range files {
		sum := sha256.Sum256(f.Content)
		want := AggFile{Name: f.Name, Size: int64(len(f.Content)), SHA256: hex.EncodeToString(sum[:]), Tag: "tag-1", ClientName: "Client One"}
		if a.Files[i] != want {
			t.Errorf("file %d = %+v, want %+v", i, a.Files[i], want)
		}
	}

	// Complete: once, then refused; uploads into it refused.
	r := complete(t, s, cl, tok, agg)
	if r.status != 200 || r.str("AggregationId") != agg || r.str("Message") == "" {
		t.Fatalf("complete = %d %s, want 200 with the aggregation id", r.status, r.raw)
	}
	login, _ := r.body["Login"].(map[string]any)["Id"].(string)
	if !uuidRE.MatchString(login) {
		t.Errorf("Login.Id = %q, want a UUID", login)
	}
	if r := complete(t, s, cl, tok, agg); r.status != 400 || !strings.Contains(r.str("Message"), "already completed") {
		t.Errorf("second complete = %d %s, want 400 already completed", r.status, r.raw)
	}
	if r := upload(t, s, cl, tok, uploadJSON(t, agg, testFile{"late.pdf", pdf(10)})); r.status != 400 || !strings.Contains(r.str("Message"), "already completed") {
		t.Errorf("upload after complete = %d %s, want 400 already completed", r.status, r.raw)
	}
	a = s.Aggregations()[0]
	if !a.Completed || a.CompleteCalls != 2 || a.LoginID != login || len(a.Files) != 3 {
		t.Errorf("after complete: %+v, want completed, 2 calls, login %s, 3 files", a, login)
	}
	if got := s.Stats().Completes; got != 1 {
		t.Errorf("Stats().Completes = %d, want 1", got)
	}
}

func TestCompleteRules(t *testing.T) {
	s := startSim(t, Options{})
	cl := mtlsClient(t, s)
	tok := getToken(t, s, cl)
	agg := mustUploadNew(t, s, cl, tok, "a.pdf")
	tests := []struct {
		name, ct, body string
		wantStatus     int
	}{
		{"unknown aggregation", "application/json", `{"AggregationId":"nope"}`, 400},
		{"no aggregation", "application/json", `{}`, 400},
		{"empty aggregation", "application/json", `{"AggregationId":""}`, 400},
		{"not JSON", "application/json", `AggregationId=x`, 400},
		{"aggregation a number", "application/json", `{"AggregationId":5}`, 400},
		{"form content type", "application/x-www-form-urlencoded", `{"AggregationId":"` + agg + `"}`, 415},
		{"good", "application/json", `{"AggregationId":"` + agg + `"}`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, cl, http.MethodPost, s.UploadURL()+"/upload/complete", map[string]string{
				"Authorization": "Bearer " + tok, "Content-Type": tt.ct,
			}, []byte(tt.body))
			if r.status != tt.wantStatus || r.body["HttpStatusCode"] != float64(tt.wantStatus) {
				t.Errorf("status = %d (%s), want %d", r.status, r.raw, tt.wantStatus)
			}
		})
	}
	if r := do(t, cl, http.MethodGet, s.UploadURL()+"/upload/complete", map[string]string{"Authorization": "Bearer " + tok}, nil); r.status != 405 {
		t.Errorf("GET complete = %d, want 405", r.status)
	}
	if r := do(t, cl, http.MethodGet, s.UploadURL()+"/nothing", nil, nil); r.status != 404 || r.body["HttpStatusCode"] != float64(404) {
		t.Errorf("unknown path = %d %s, want a JSON 404", r.status, r.raw)
	}
}

// completeSession uploads names into a new aggregation, completes it and
// returns the login id.
func completeSession(t *testing.T, s *Sim, cl *http.Client, tok string, names ...string) string {
	t.Helper()
	agg := ""
	for _, n := range names {
		r := upload(t, s, cl, tok, uploadJSON(t, agg, testFile{n, pdf(100)}))
		if r.status != 200 {
			t.Fatalf("upload %s: %d %s", n, r.status, r.raw)
		}
		agg = r.str("AggregationId")
	}
	r := complete(t, s, cl, tok, agg)
	if r.status != 200 {
		t.Fatalf("complete: %d %s", r.status, r.raw)
	}
	return r.body["Login"].(map[string]any)["Id"].(string)
}

func statuses(r reply) []string {
	var out []string
	docs, _ := r.body["DocumentAnalysis"].([]any)
	for _, d := range docs {
		st, _ := d.(map[string]any)["Status"].(string)
		out = append(out, st)
	}
	return out
}

func signalCount(r reply) int {
	n := 0
	docs, _ := r.body["DocumentAnalysis"].([]any)
	for _, d := range docs {
		fa, _ := d.(map[string]any)["FullAnalysis"].([]any)
		for _, a := range fa {
			fs, _ := a.(map[string]any)["FraudSignals"].([]any)
			n += len(fs)
		}
	}
	return n
}

func TestFraudPollSequence(t *testing.T) {
	s := startSim(t, Options{})
	cl := mtlsClient(t, s)
	fc := tlsClient(t, s, "", "")
	tok := getToken(t, s, cl)
	_, _, key, customer := s.Credentials()
	clean := completeSession(t, s, cl, tok, "jan.pdf", "feb.pdf")
	fraud := completeSession(t, s, cl, tok, "jan.pdf", "Edited-FRAUD.pdf", "mar.pdf")

	wantSeq := []struct {
		status   int
		statuses []string
	}{
		{404, nil},
		{200, []string{"PROCESSING", "PROCESSING"}},
		{200, []string{"COMPLETED", "COMPLETED"}},
		{200, []string{"COMPLETED", "COMPLETED"}},
	}
	for i, w := range wantSeq {
		r := pollFraud(t, s, fc, customer, clean, key)
		if r.status != w.status || fmt.Sprint(statuses(r)) != fmt.Sprint(w.statuses) {
			t.Fatalf("poll %d = %d %v, want %d %v (%s)", i, r.status, statuses(r), w.status, w.statuses, r.raw)
		}
		if r.status == 200 {
			lg, _ := r.body["Login"].(map[string]any)
			if lg["LoginId"] != clean || lg["RequestId"] == "" {
				t.Errorf("poll %d Login = %v, want LoginId %s and a RequestId", i, lg, clean)
			}
		}
		if i >= 2 {
			if r.str("Message") != "No Fraud Signal Detected" || signalCount(r) != 0 {
				t.Errorf("clean poll %d: Message %q, %d signals; want No Fraud Signal Detected, 0", i, r.str("Message"), signalCount(r))
			}
			fa := r.body["DocumentAnalysis"].([]any)[0].(map[string]any)["FullAnalysis"].([]any)[0].(map[string]any)
			if fa["DocumentType"] != "BANK_STATEMENT" {
				t.Errorf("DocumentType = %v, want BANK_STATEMENT", fa["DocumentType"])
			}
		}
	}
	for range 2 {
		pollFraud(t, s, fc, customer, fraud, key)
	}
	r := pollFraud(t, s, fc, customer, fraud, key)
	if len(statuses(r)) != 3 || signalCount(r) != 2 || r.str("Message") == "No Fraud Signal Detected" {
		t.Errorf("fraud session: %d documents, %d signals, message %q; want 3, 2, not 'No Fraud'", len(statuses(r)), signalCount(r), r.str("Message"))
	}
	sig := r.body["DocumentAnalysis"].([]any)[1].(map[string]any)["FullAnalysis"].([]any)[0].(map[string]any)["FraudSignals"].([]any)[0].(map[string]any)
	for _, k := range []string{"Type", "PageNumber", "Count", "UnderlyingData"} {
		if _, ok := sig[k]; !ok {
			t.Errorf("fraud signal %v lacks %s", sig, k)
		}
	}

	// Refusals.
	if r := pollFraud(t, s, fc, customer, clean, key+"x"); r.status != 401 {
		t.Errorf("wrong API key = %d, want 401", r.status)
	}
	if r := do(t, fc, http.MethodGet, s.FraudURL()+"/v3/"+customer+"/upload/fraudanalysis/"+clean, nil, nil); r.status != 401 {
		t.Errorf("no API key = %d, want 401", r.status)
	}
	if r := pollFraud(t, s, fc, "someone-else", clean, key); r.status != 403 {
		t.Errorf("wrong customer = %d, want 403", r.status)
	}
	if r := pollFraud(t, s, fc, customer, "unknown-login", key); r.status != 404 {
		t.Errorf("unknown login = %d, want 404", r.status)
	}
	if r := do(t, fc, http.MethodPost, s.FraudURL()+"/v3/"+customer+"/upload/fraudanalysis/"+clean, map[string]string{"Authorization": "Bearer " + key}, nil); r.status != 405 {
		t.Errorf("POST fraud = %d, want 405", r.status)
	}
}

func TestFraudPollsOption(t *testing.T) {
	tests := []struct {
		polls int
		want  []string // per poll: status code or the document status
	}{
		{FraudImmediate, []string{"COMPLETED", "COMPLETED"}},
		{1, []string{"404", "COMPLETED"}},
		{3, []string{"404", "PROCESSING", "PROCESSING", "COMPLETED"}},
		{FraudNever, []string{"404", "PROCESSING", "PROCESSING", "PROCESSING", "PROCESSING", "PROCESSING"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.polls), func(t *testing.T) {
			s := startSim(t, Options{FraudPolls: tt.polls})
			cl := mtlsClient(t, s)
			login := completeSession(t, s, cl, getToken(t, s, cl), "a.pdf")
			_, _, key, customer := s.Credentials()
			var got []string
			for range tt.want {
				r := pollFraud(t, s, cl, customer, login, key)
				if r.status != 200 {
					got = append(got, fmt.Sprint(r.status))
					continue
				}
				got = append(got, statuses(r)[0])
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("polls = %v, want %v", got, tt.want)
			}
			if st := s.Stats().FraudPolls; st != int64(len(tt.want)) {
				t.Errorf("Stats().FraudPolls = %d, want %d", st, len(tt.want))
			}
		})
	}
}

func TestFaultErrorRate(t *testing.T) {
	s := startSim(t, Options{Faults: Faults{ErrorRate: 1}})
	cl := mtlsClient(t, s)
	id, secret, key, customer := s.Credentials()
	calls := []struct {
		name string
		do   func() reply
	}{
		{"token", func() reply {
			return do(t, cl, http.MethodPost, s.UploadURL()+"/token", map[string]string{
				"Authorization": basic(id, secret), "Content-Type": "application/x-www-form-urlencoded",
			}, []byte("grant_type=client_credentials&scope=ocr.write"))
		}},
		{"upload", func() reply { return upload(t, s, cl, "any", uploadJSON(t, "", testFile{"a.pdf", pdf(1 << 20)})) }},
		{"complete", func() reply { return complete(t, s, cl, "any", "x") }},
		{"fraud", func() reply { return pollFraud(t, s, cl, customer, "x", key) }},
	}
	for _, c := range calls {
		r := c.do()
		if r.status != 503 || r.header.Get("Retry-After") != "1" || r.body["HttpStatusCode"] != float64(503) {
			t.Errorf("%s = %d Retry-After %q %s, want 503 with Retry-After 1", c.name, r.status, r.header.Get("Retry-After"), r.raw)
		}
	}
	st := s.Stats()
	if st.InjectedErrors != 4 || st.TokenRequests != 0 || st.Uploads != 0 || st.UploadRejects != 0 || st.FraudPolls != 0 {
		t.Errorf("Stats() = %+v, want 4 injected errors and nothing handled", st)
	}
	if n := len(s.Aggregations()); n != 0 {
		t.Errorf("Aggregations() = %d, want none", n)
	}
	// Turned off at runtime, the calls go through.
	s.SetFaults(Faults{})
	if tok := getToken(t, s, cl); tok == "" {
		t.Error("no token after SetFaults(Faults{})")
	}
}

func TestFaultReset(t *testing.T) {
	s := startSim(t, Options{})
	cl := mtlsClient(t, s)
	tok := getToken(t, s, cl)
	agg := mustUploadNew(t, s, cl, tok, "a.pdf")

	s.SetFaults(Faults{ResetRate: 1})
	if r, err := doErr(cl, http.MethodPost, s.UploadURL()+"/upload", map[string]string{
		"Authorization": "Bearer " + tok, "Content-Type": "application/json",
	}, uploadJSON(t, agg, testFile{"b.pdf", pdf(1 << 20)})); err == nil {
		t.Fatalf("upload with ResetRate 1 = %d, want a connection error", r.status)
	}
	if _, err := doErr(cl, http.MethodPost, s.UploadURL()+"/upload/complete", map[string]string{
		"Authorization": "Bearer " + tok, "Content-Type": "application/json",
	}, []byte(`{"AggregationId":"`+agg+`"}`)); err == nil {
		t.Fatal("complete with ResetRate 1 succeeded, want a connection error")
	}
	a := s.Aggregations()[0]
	if len(a.Files) != 1 || a.Completed || a.CompleteCalls != 0 {
		t.Errorf("after resets before the call: %+v, want 1 file, not completed", a)
	}

	s.SetFaults(Faults{ResetAfterRate: 1})
	if _, err := doErr(cl, http.MethodPost, s.UploadURL()+"/upload", map[string]string{
		"Authorization": "Bearer " + tok, "Content-Type": "application/json",
	}, uploadJSON(t, agg, testFile{"b.pdf", pdf(1 << 20)})); err == nil {
		t.Fatal("upload with ResetAfterRate 1 got a reply, want a connection error")
	}
	if _, err := doErr(cl, http.MethodPost, s.UploadURL()+"/upload/complete", map[string]string{
		"Authorization": "Bearer " + tok, "Content-Type": "application/json",
	}, []byte(`{"AggregationId":"`+agg+`"}`)); err == nil {
		t.Fatal("complete with ResetAfterRate 1 got a reply, want a connection error")
	}
	a = s.Aggregations()[0]
	if len(a.Files) != 2 || !a.Completed || a.CompleteCalls != 1 {
		t.Errorf("after resets after the call: %+v, want 2 files, completed once", a)
	}
	// The in-doubt complete, retried, is refused.
	s.SetFaults(Faults{})
	if r := complete(t, s, cl, tok, agg); r.status != 400 || !strings.Contains(r.str("Message"), "already completed") {
		t.Errorf("complete retried after a lost reply = %d %s, want 400 already completed", r.status, r.raw)
	}
	if got := s.Stats().Resets; got != 4 {
		t.Errorf("Stats().Resets = %d, want 4", got)
	}
}

func TestFaultLatency(t *testing.T) {
	s := startSim(t, Options{Faults: Faults{Latency: time.Hour}})
	cl := mtlsClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.UploadURL()+"/token", nil)
	resp, err := cl.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("request with 1h latency answered %d, want the client's deadline to pass", resp.StatusCode)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want context.DeadlineExceeded", err)
	}
}

func TestFaultsDeterministic(t *testing.T) {
	run := func(seed int64) string {
		s := startSim(t, Options{Faults: Faults{ErrorRate: 0.5, Seed: seed}})
		cl := mtlsClient(t, s)
		var b strings.Builder
		for range 40 {
			r := do(t, cl, http.MethodGet, s.UploadURL()+"/token", nil, nil)
			fmt.Fprintf(&b, "%d ", r.status)
		}
		return b.String()
	}
	a, b, c := run(7), run(7), run(8)
	if a != b {
		t.Errorf("same seed gave different sequences:\n%s\n%s", a, b)
	}
	if a == c {
		t.Errorf("seeds 7 and 8 gave the same sequence %s", a)
	}
	if !strings.Contains(a, "503") || !strings.Contains(a, "405") {
		t.Errorf("sequence %s, want both 503s and 405s at rate 0.5", a)
	}
}

func TestCertsReused(t *testing.T) {
	dir := t.TempDir()
	s1 := startSim(t, Options{Dir: dir})
	c1 := s1.Certs()
	_, secret1, key1, _ := s1.Credentials()
	ca1 := testutil.ReadFile(t, c1.CAFile)
	s1.Close()

	s2 := startSim(t, Options{Dir: dir})
	c2 := s2.Certs()
	_, secret2, key2, _ := s2.Credentials()
	if c1 != c2 || !bytes.Equal(ca1, testutil.ReadFile(t, c2.CAFile)) || secret1 != secret2 || key1 != key2 {
		t.Errorf("second Start on the same folder made new certificates or credentials")
	}
	// The old client certificate still works against the new server.
	cl := mtlsClient(t, s2)
	getToken(t, s2, cl)

	for _, p := range []string{c2.CAFile, c2.ClientCertFile, c2.ServerCertFile, c2.ClientPFXFile, c2.OtherCAClientCertFile} {
		if !filepath.IsAbs(p) {
			t.Errorf("path %s is not absolute", p)
		}
	}
	if runtime.GOOS != "windows" {
		secretFile, keyFile := s2.CredentialFiles()
		for _, p := range []string{c2.ClientKeyFile, c2.ServerKeyFile, c2.OtherCAClientKeyFile, filepath.Join(dir, fileCAKey), secretFile, keyFile, c2.PFXPasswordFile} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s mode = %v, want 0600", p, fi.Mode().Perm())
			}
		}
	}

	// The PFX holds the client certificate under the password.
	priv, cert, chain, err := pkcs12.DecodeChain(testutil.ReadFile(t, c2.ClientPFXFile), c2.PFXPassword)
	if err != nil || priv == nil {
		t.Fatalf("decode the PFX: %v", err)
	}
	if len(chain) != 1 || !bytes.Equal(certPEM(chain[0].Raw), ca1) {
		t.Errorf("PFX chain = %d certificates, want the CA", len(chain))
	}
	if cert.Subject.CommonName != "sim-client" {
		t.Errorf("PFX certificate CN = %q, want sim-client", cert.Subject.CommonName)
	}
	if _, _, _, err := pkcs12.DecodeChain(testutil.ReadFile(t, c2.ClientPFXFile), "wrong"); err == nil {
		t.Error("the PFX opened with a wrong password")
	}
	s2.Close()

	// A broken file makes a fresh set.
	if err := os.WriteFile(c2.ServerCertFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	s3 := startSim(t, Options{Dir: dir})
	if bytes.Equal(ca1, testutil.ReadFile(t, s3.Certs().CAFile)) {
		t.Error("a broken server certificate did not make a new set")
	}
	getToken(t, s3, mtlsClient(t, s3))
}

func TestGivenCredentials(t *testing.T) {
	s := startSim(t, Options{ClientID: "me", ClientSecret: "p@ss:word", APIKey: "k", CustomerID: "cust", Scope: "other.scope"})
	id, secret, key, customer := s.Credentials()
	if id != "me" || secret != "p@ss:word" || key != "k" || customer != "cust" {
		t.Fatalf("Credentials() = %q %q %q %q", id, secret, key, customer)
	}
	secretFile, keyFile := s.CredentialFiles()
	if got := string(testutil.ReadFile(t, secretFile)); got != secret {
		t.Errorf("secret file = %q, want %q", got, secret)
	}
	if got := string(testutil.ReadFile(t, keyFile)); got != key {
		t.Errorf("API key file = %q, want %q", got, key)
	}
	cl := mtlsClient(t, s)
	r := do(t, cl, http.MethodPost, s.UploadURL()+"/token", map[string]string{
		"Authorization": basic(id, secret), "Content-Type": "application/x-www-form-urlencoded",
	}, []byte("grant_type=client_credentials&scope=other.scope"))
	if r.status != 200 {
		t.Errorf("token with a secret holding ':' and scope other.scope = %d %s, want 200", r.status, r.raw)
	}
}

func TestBadOptions(t *testing.T) {
	tests := []Options{
		{Faults: Faults{ErrorRate: 1.5}},
		{Faults: Faults{ResetRate: -0.1}},
		{MaxFiles: -1},
		{FraudPolls: -3},
		{ClientID: "a:b"},
	}
	for _, o := range tests {
		o.Dir = t.TempDir()
		if s, err := Start(o); !errors.Is(err, ErrBadOptions) {
			if s != nil {
				s.Close()
			}
			t.Errorf("Start(%+v) error = %v, want ErrBadOptions", o, err)
		}
	}
}

func TestConcurrentUploads(t *testing.T) {
	s := startSim(t, Options{})
	cl := mtlsClient(t, s)
	tok := getToken(t, s, cl)
	const sessions, perSession = 10, 5
	aggs := make([]string, sessions)
	for i := range aggs {
		aggs[i] = mustUploadNew(t, s, cl, tok, fmt.Sprintf("s%d-0.pdf", i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, sessions*perSession)
	for i := range sessions {
		for j := 1; j <= perSession; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := uploadJSON(t, aggs[i], testFile{fmt.Sprintf("s%d-%d.pdf", i, j), pdf(20000 + j)})
				r, err := doErr(cl, http.MethodPost, s.UploadURL()+"/upload", map[string]string{
					"Authorization": "Bearer " + tok, "Content-Type": "application/json",
				}, body)
				switch {
				case err != nil:
					errs <- err
				case r.status != 200 || r.str("AggregationId") != aggs[i]:
					errs <- fmt.Errorf("upload s%d-%d = %d %s", i, j, r.status, r.raw)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := s.Aggregations()
	if len(got) != sessions {
		t.Fatalf("Aggregations() = %d, want %d", len(got), sessions)
	}
	for i, a := range got {
		seen := map[string]int{}
		for _, f := range a.Files {
			seen[f.Name]++
		}
		for j := 0; j <= perSession; j++ {
			if n := seen[fmt.Sprintf("s%d-%d.pdf", i, j)]; n != 1 {
				t.Errorf("aggregation %d holds s%d-%d.pdf %d times, want once", i, i, j, n)
			}
		}
		if len(a.Files) != perSession+1 {
			t.Errorf("aggregation %d holds %d files, want %d", i, len(a.Files), perSession+1)
		}
	}
	if st := s.Stats().Uploads; st != sessions*(perSession+1) {
		t.Errorf("Stats().Uploads = %d, want %d", st, sessions*(perSession+1))
	}
}

func TestConfigYAML(t *testing.T) {
	s := startSim(t, Options{})
	inbox := filepath.Join(t.TempDir(), "in box")
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(s.ConfigYAML(inbox)), &cfg); err != nil {
		t.Fatalf("ConfigYAML does not parse: %v", err)
	}
	fl := cfg["flinks"].(map[string]any)
	tlsKeys := fl["tls"].(map[string]any)
	fraud := fl["fraud"].(map[string]any)
	secretFile, keyFile := s.CredentialFiles()
	id, _, _, customer := s.Credentials()
	checks := []struct {
		key  string
		got  any
		want any
	}{
		{"flinks.upload_url", fl["upload_url"], s.UploadURL()},
		{"flinks.client_id", fl["client_id"], id},
		{"flinks.client_secret_file", fl["client_secret_file"], secretFile},
		{"flinks.scope", fl["scope"], "ocr.write"},
		{"flinks.tls.cert_file", tlsKeys["cert_file"], s.Certs().ClientCertFile},
		{"flinks.tls.key_file", tlsKeys["key_file"], s.Certs().ClientKeyFile},
		{"flinks.tls.ca_file", tlsKeys["ca_file"], s.Certs().CAFile},
		{"flinks.fraud.url", fraud["url"], s.FraudURL()},
		{"flinks.fraud.customer_id", fraud["customer_id"], customer},
		{"flinks.fraud.api_key_file", fraud["api_key_file"], keyFile},
		{"inboxes[0].path", cfg["inboxes"].([]any)[0].(map[string]any)["path"], inbox},
		{"limits.max_file_mb", cfg["limits"].(map[string]any)["max_file_mb"], 18},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.key, c.got, c.want)
		}
	}
	if strings.Contains(s.ConfigYAML(), s.clientSecret) {
		t.Error("ConfigYAML holds the client secret itself")
	}
}

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out testutil.SyncBuffer
	done := make(chan error, 1)
	dir := t.TempDir()
	go func() { done <- Run(ctx, Options{Dir: dir}, &out) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "grant_type=client_credentials") {
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run printed %q, want the curl example", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil after cancel", err)
	}
	for _, want := range []string{"https://127.0.0.1:", "/api/v1", "ca.crt", "client.crt", "client.pfx", "upload_url:", "inboxes:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("Run output lacks %q", want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "inbox")); err != nil || !fi.IsDir() {
		t.Errorf("the inbox the printed config names was not created: %v", err)
	}
}

func TestCloseTwice(t *testing.T) {
	s := startSim(t, Options{})
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
}

func TestTempDirRemoved(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := s.Dir()
	if _, err := os.Stat(filepath.Join(dir, fileCA)); err != nil {
		t.Fatalf("CA in the temporary folder: %v", err)
	}
	s.Close()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary folder after Close: %v, want it gone", err)
	}
}

func TestResetOverHTTP2(t *testing.T) {
	s := startSim(t, Options{})
	cl := mtlsClient(t, s)
	cl.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	tok := getToken(t, s, cl)
	probe, err := cl.Get(s.UploadURL() + "/token")
	if err != nil {
		t.Fatal(err)
	}
	probe.Body.Close()
	if probe.ProtoMajor != 2 {
		t.Fatalf("protocol = %s, want HTTP/2", probe.Proto)
	}
	agg := mustUploadNew(t, s, cl, tok, "a.pdf")
	s.SetFaults(Faults{ResetAfterRate: 1})
	req, _ := http.NewRequest(http.MethodPost, s.UploadURL()+"/upload/complete", strings.NewReader(`{"AggregationId":"`+agg+`"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := cl.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("complete over %s with ResetAfterRate 1 = %d, want a stream error", resp.Proto, resp.StatusCode)
	}
	if a := s.Aggregations()[0]; !a.Completed {
		t.Errorf("aggregation not completed after a reset-after complete")
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	var logBuf testutil.SyncBuffer
	dir := t.TempDir()
	s, err := Start(Options{Dir: dir, Log: zerolog.New(&logBuf).Level(zerolog.DebugLevel)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cl := mtlsClient(t, s)
	tok := getToken(t, s, cl)
	login := completeSession(t, s, cl, tok, "fraud.pdf")
	_, secret, key, customer := s.Credentials()
	pollFraud(t, s, cl, customer, login, key)
	pollFraud(t, s, cl, customer, login, "wrong-"+key)
	upload(t, s, cl, tok+"x", uploadJSON(t, "", testFile{"a.pdf", pdf(10)}))
	logs := logBuf.String()
	if !strings.Contains(logs, "upload session completed") {
		t.Fatalf("debug log lacks the complete line: %s", logs)
	}
	for name, v := range map[string]string{"client secret": secret, "API key": key, "token": tok, "PFX password": s.Certs().PFXPassword} {
		if strings.Contains(logs, v) {
			t.Errorf("the log shows the %s", name)
		}
	}
}

func TestCeilMiB(t *testing.T) {
	tests := []struct{ in, want int64 }{{0, 0}, {1, 1}, {1 << 20, 1}, {1<<20 + 1, 2}, {18 << 20, 18}}
	for _, tt := range tests {
		if got := ceilMiB(tt.in); got != tt.want {
			t.Errorf("ceilMiB(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
