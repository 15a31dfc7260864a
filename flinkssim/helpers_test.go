package flinkssim

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// Magic prefixes of the accepted types, for building test files.
const (
	pdfMagic  = "%PDF-1.7\n"
	pngMagic  = "\x89PNG\r\n\x1a\n"
	jpegMagic = "\xFF\xD8\xFF\xE0"
	tiffII    = "II*\x00"
	tiffMM    = "MM\x00*"
)

// startSim starts a simulator in a temporary folder and closes it when the
// test ends.
func startSim(t testing.TB, opts Options) *Sim {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	opts.Log = zerolog.Nop()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// tlsClient returns an HTTP client that trusts the simulator's CA and, when
// certFile is not empty, presents that client certificate.
func tlsClient(t testing.TB, s *Sim, certFile, keyFile string) *http.Client {
	t.Helper()
	caPEM, err := os.ReadFile(s.Certs().CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA file holds no certificate")
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	tr := &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// mtlsClient presents the simulator's own client certificate.
func mtlsClient(t testing.TB, s *Sim) *http.Client {
	t.Helper()
	c := s.Certs()
	return tlsClient(t, s, c.ClientCertFile, c.ClientKeyFile)
}

// reply is a decoded answer.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r reply) str(key string) string {
	v, _ := r.body[key].(string)
	return v
}

func do(t testing.TB, c *http.Client, method, url string, header map[string]string, body []byte) reply {
	t.Helper()
	r, err := doErr(c, method, url, header, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

func doErr(c *http.Client, method, url string, header map[string]string, body []byte) (reply, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, url, bytes.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	out := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &out.body)
	return out, nil
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// getToken asks for a token with the simulator's credentials.
func getToken(t testing.TB, s *Sim, c *http.Client) string {
	t.Helper()
	id, secret, _, _ := s.Credentials()
	r := do(t, c, http.MethodPost, s.UploadURL()+"/token", map[string]string{
		"Authorization": basic(id, secret),
		"Content-Type":  "application/x-www-form-urlencoded",
	}, []byte("grant_type=client_credentials&scope=ocr.write"))
	if r.status != http.StatusOK {
		t.Fatalf("token: status %d %s", r.status, r.raw)
	}
	return r.str("access_token")
}

type testFile struct {
	Name    string
	Content []byte
}

// uploadJSON builds an upload body with encoding/json.
func uploadJSON(t testing.TB, aggID string, files ...testFile) []byte {
	t.Helper()
	type jf struct {
		FileName string
		Content  string
	}
	req := struct {
		AggregationID string `json:"AggregationId,omitempty"`
		Files         []jf
		Tag           string
		ClientName    string
	}{AggregationID: aggID, Files: []jf{}, Tag: "tag-1", ClientName: "Client One"}
	for _, f := range files {
		req.Files = append(req.Files, jf{FileName: f.Name, Content: base64.StdEncoding.EncodeToString(f.Content)})
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func upload(t testing.TB, s *Sim, c *http.Client, token string, body []byte) reply {
	t.Helper()
	return do(t, c, http.MethodPost, s.UploadURL()+"/upload", map[string]string{
		"Authorization": "Bearer " + token,
		"Content-Type":  "application/json",
	}, body)
}

func complete(t testing.TB, s *Sim, c *http.Client, token, aggID string) reply {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"AggregationId": aggID})
	return do(t, c, http.MethodPost, s.UploadURL()+"/upload/complete", map[string]string{
		"Authorization": "Bearer " + token,
		"Content-Type":  "application/json",
	}, body)
}

func pollFraud(t testing.TB, s *Sim, c *http.Client, customer, login, key string) reply {
	t.Helper()
	return do(t, c, http.MethodGet, s.FraudURL()+"/v3/"+customer+"/upload/fraudanalysis/"+login,
		map[string]string{"Authorization": "Bearer " + key}, nil)
}

// pdf returns a small PDF-looking file of n bytes.
func pdf(n int) []byte {
	b := []byte(pdfMagic + strings.Repeat("x", max(n-len(pdfMagic), 0)))
	return b[:n]
}

// mustUploadNew uploads one file into a new aggregation and returns its id.
func mustUploadNew(t testing.TB, s *Sim, c *http.Client, token, name string) string {
	t.Helper()
	r := upload(t, s, c, token, uploadJSON(t, "", testFile{name, pdf(100)}))
	if r.status != http.StatusOK {
		t.Fatalf("upload %s: status %d %s", name, r.status, r.raw)
	}
	return r.str("AggregationId")
}
