package flinkssim

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// bigUploadBody is an upload request for an 18 MiB PDF.
func bigUploadBody(b *testing.B) []byte {
	b.Helper()
	content := make([]byte, DefaultMaxFileBytes)
	for i := range content {
		content[i] = byte(i * 31)
	}
	copy(content, pdfMagic)
	return uploadJSON(b, "", testFile{"big.pdf", content})
}

// BenchmarkUploadHandler measures the upload handler alone (parse, base64,
// SHA-256, bookkeeping) on an 18 MiB file; MB/s is of request body bytes.
func BenchmarkUploadHandler(b *testing.B) {
	s := startSim(b, Options{})
	body := bigUploadBody(b)
	tok, _, _ := s.issueToken()
	h := s.apiHandler()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/upload", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkUploadMTLS measures a whole upload call of an 18 MiB file over
// mutual TLS on loopback, client included.
func BenchmarkUploadMTLS(b *testing.B) {
	s := startSim(b, Options{})
	cl := mtlsClient(b, s)
	tok := getToken(b, s, cl)
	body := bigUploadBody(b)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, s.UploadURL()+"/upload", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := cl.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
