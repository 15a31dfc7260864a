package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/flinkdrop/flinkdrop/flinkssim"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
)

// tokenProxy sits between the daemon and the simulator's mTLS API and
// records every access token the simulator issues, so a test can look for
// them where they must not be.
type tokenProxy struct {
	url    string
	mu     sync.Mutex
	tokens []string
}

func (p *tokenProxy) Tokens() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.tokens...)
}

// startTokenProxy serves with the simulator's server certificate, asks for
// a client certificate like the real API, and forwards to the simulator
// with the simulator's client certificate.
func startTokenProxy(t *testing.T, sim *flinkssim.Sim) *tokenProxy {
	t.Helper()
	certs := sim.Certs()
	serverCert, err := tls.LoadX509KeyPair(certs.ServerCertFile, certs.ServerKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	clientCert, err := tls.LoadX509KeyPair(certs.ClientCertFile, certs.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(readPEMCert(t, certs.CAFile))
	target, err := url.Parse(sim.UploadURL())
	if err != nil {
		t.Fatal(err)
	}
	target.Path = ""
	p := &tokenProxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	transport := &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{clientCert}, RootCAs: pool}}
	t.Cleanup(transport.CloseIdleConnections)
	rp.Transport = transport
	rp.ModifyResponse = func(resp *http.Response) error {
		if !strings.HasSuffix(resp.Request.URL.Path, "/token") || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal(body, &tok) == nil && tok.AccessToken != "" {
			p.mu.Lock()
			p.tokens = append(p.tokens, tok.AccessToken)
			p.mu.Unlock()
		}
		return nil
	}
	srv := httptest.NewUnstartedServer(rp)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	p.url = srv.URL + "/api/v1"
	return p
}

func TestSecretsNeverWritten(t *testing.T) {
	t.Parallel()
	const (
		clientSecret = "cs-Q7xZ2-distinctive-client-secret-value"
		apiKey       = "ak-9Vf3K-distinctive-fraud-api-key-value"
	)
	sim := startSim(t, flinkssim.Options{ClientSecret: clientSecret, APIKey: apiKey})
	proxy := startTokenProxy(t, sim)
	ws := newWorkspace(t)
	cfg := writeConfig(t, sim, ws, testConfig{
		uploadURL:    proxy.url,
		clientSecret: clientSecret,
		apiKey:       apiKey,
		pfx:          true,
		logFile:      filepath.Join(ws.logDir, "flinkdrop.log"),
		logLevel:     "debug",
	})
	// The config holds the secrets inline: keep it out of the workspace
	// that is searched.
	outside := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.Rename(cfg, outside); err != nil {
		t.Fatal(err)
	}
	cfg = outside
	testutil.WriteFiles(t, ws.inbox, e2eInbox())

	var outputs []cliResult
	res := runCLI(context.Background(), "run", "--once", "--config", cfg)
	outputs = append(outputs, res)
	if res.code != exitOK {
		t.Fatalf("run --once: %v", res)
	}
	outputs = append(outputs,
		runCLI(context.Background(), "status", "--json", "--config", cfg),
		runCLI(context.Background(), "status", "--config", cfg),
		runCLI(context.Background(), "check", "--config", cfg))

	tokens := proxy.Tokens()
	if len(tokens) == 0 {
		t.Fatal("the proxy saw no token: the test would prove nothing")
	}
	if len(readReports(t, ws.outbox)) == 0 {
		t.Fatal("no reports written: the test would prove nothing")
	}
	logData, err := os.ReadFile(filepath.Join(ws.logDir, "flinkdrop.log"))
	if err != nil || !bytes.Contains(logData, []byte(`"level":"debug"`)) {
		t.Fatalf("the log file has no debug lines (err %v): the test would prove nothing", err)
	}
	id, _, _, _ := sim.Credentials()
	needles := map[string]string{
		"client secret":           clientSecret,
		"API key":                 apiKey,
		"PFX password":            sim.Certs().PFXPassword,
		"Basic credentials":       base64.StdEncoding.EncodeToString([]byte(id + ":" + clientSecret)),
		"Basic credentials (url)": base64.URLEncoding.EncodeToString([]byte(id + ":" + clientSecret)),
		"a Bearer header":         "Bearer ",
	}
	for i, tok := range tokens {
		needles["access token #"+strconv.Itoa(i+1)] = tok
	}

	files := testutil.ListFiles(t, ws.root)
	for _, want := range []string{"state/flinkdrop.db", "state/status.json", "log/flinkdrop.log"} {
		if !slices.Contains(files, want) {
			t.Errorf("the workspace has no %s to search; it holds %v", want, files)
		}
	}
	for _, rel := range files {
		data, err := os.ReadFile(filepath.Join(ws.root, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		for what, needle := range needles {
			if bytes.Contains(data, []byte(needle)) {
				t.Errorf("%s holds the %s", rel, what)
			}
		}
	}
	for _, out := range outputs {
		for what, needle := range needles {
			if strings.Contains(out.stdout+out.stderr, needle) {
				t.Errorf("command output holds the %s:\n%v", what, out)
			}
		}
	}
}
