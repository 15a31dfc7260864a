package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/flinkssim"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
	"github.com/flinkdrop/flinkdrop/report"
)

// cliResult is what one in-process run of the command printed and returned.
type cliResult struct {
	code           int
	stdout, stderr string
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s\n--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// runCLI runs the whole program in-process with args.
func runCLI(ctx context.Context, args ...string) cliResult {
	var out, errOut testutil.SyncBuffer
	code := run(ctx, args, strings.NewReader(""), &out, &errOut)
	return cliResult{code: code, stdout: out.String(), stderr: errOut.String()}
}

// bgRun is a command running in a goroutine until its context is cancelled.
type bgRun struct {
	cancel context.CancelFunc
	done   chan struct{}
	code   int
	out    testutil.SyncBuffer
	errOut testutil.SyncBuffer
}

// startCLI runs the program in a goroutine; stop cancels it and waits.
func startCLI(t *testing.T, args ...string) *bgRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &bgRun{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		b.code = run(ctx, args, strings.NewReader(""), &b.out, &b.errOut)
	}()
	t.Cleanup(func() { b.stop(t) })
	return b
}

// stop cancels the run and waits for it (the daemon promises to stop
// within 10 s; the test allows a little more).
func (b *bgRun) stop(t *testing.T) cliResult {
	t.Helper()
	b.cancel()
	select {
	case <-b.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("the command did not stop within 15s of its context being cancelled\n--- stderr:\n%s", b.errOut.String())
	}
	return cliResult{code: b.code, stdout: b.out.String(), stderr: b.errOut.String()}
}

// exited reports whether the run has returned.
func (b *bgRun) exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// startSim starts a simulator in its own temporary folder (outside the
// workspace, since it holds the secrets in files). Analyses complete at the
// first poll unless opts says otherwise.
func startSim(t *testing.T, opts flinkssim.Options) *flinkssim.Sim {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.FraudPolls == 0 {
		opts.FraudPolls = flinkssim.FraudImmediate
	}
	opts.Log = zerolog.Nop()
	sim, err := flinkssim.Start(opts)
	if err != nil {
		t.Fatalf("flinkssim.Start: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// workspace is the folders one daemon works on, all under root.
type workspace struct {
	root, inbox, outbox, archive, failed, state, logDir string
}

func newWorkspace(t *testing.T) workspace {
	t.Helper()
	root := t.TempDir()
	ws := workspace{
		root:    root,
		inbox:   filepath.Join(root, "inbox"),
		outbox:  filepath.Join(root, "outbox"),
		archive: filepath.Join(root, "archive"),
		failed:  filepath.Join(root, "failed"),
		state:   filepath.Join(root, "state"),
		logDir:  filepath.Join(root, "log"),
	}
	for _, d := range []string{ws.inbox, ws.outbox, ws.archive, ws.failed, ws.state} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return ws
}

// testConfig is a config against a simulator; the zero value of each field
// means the simulator's working value.
type testConfig struct {
	uploadURL    string // default sim.UploadURL()
	clientSecret string // inline; default the simulator's, as client_secret_file
	scope        string
	certFile     string // default the simulator's client certificate
	keyFile      string
	pfx          bool // pfx_file + pfx_password_file instead of cert_file/key_file
	noCA         bool // leave ca_file empty (system roots only)
	apiKey       string
	noFraud      bool
	logFile      string
	logLevel     string
	inbox        string // default ws.inbox
	outbox       string // default ws.outbox
	state        string // default ws.state
}

// writeConfig writes c for sim and ws to ws.root/config.yaml and returns
// its path.
func writeConfig(t *testing.T, sim *flinkssim.Sim, ws workspace, c testConfig) string {
	t.Helper()
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	certs := sim.Certs()
	id, _, _, customer := sim.Credentials()
	secretFile, apiKeyFile := sim.CredentialFiles()
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	var b strings.Builder
	fmt.Fprintf(&b, "flinks:\n  upload_url: %s\n  client_id: %s\n", q(def(c.uploadURL, sim.UploadURL())), q(id))
	if c.clientSecret != "" {
		fmt.Fprintf(&b, "  client_secret: %s\n", q(c.clientSecret))
	} else {
		fmt.Fprintf(&b, "  client_secret_file: %s\n", q(secretFile))
	}
	fmt.Fprintf(&b, "  scope: %s\n  tls:\n", q(def(c.scope, flinkssim.DefaultScope)))
	if c.pfx {
		fmt.Fprintf(&b, "    pfx_file: %s\n    pfx_password_file: %s\n", q(certs.ClientPFXFile), q(certs.PFXPasswordFile))
	} else {
		fmt.Fprintf(&b, "    cert_file: %s\n    key_file: %s\n", q(def(c.certFile, certs.ClientCertFile)), q(def(c.keyFile, certs.ClientKeyFile)))
	}
	if !c.noCA {
		fmt.Fprintf(&b, "    ca_file: %s\n", q(certs.CAFile))
	}
	if !c.noFraud {
		fmt.Fprintf(&b, "  fraud:\n    url: %s\n    customer_id: %s\n", q(sim.FraudURL()), q(customer))
		if c.apiKey != "" {
			fmt.Fprintf(&b, "    api_key: %s\n", q(c.apiKey))
		} else {
			fmt.Fprintf(&b, "    api_key_file: %s\n", q(apiKeyFile))
		}
		fmt.Fprintf(&b, "    poll_interval: 1s\n    timeout: 2m\n")
	}
	fmt.Fprintf(&b, "state_dir: %s\nworkers: 4\ninboxes:\n", q(def(c.state, ws.state)))
	fmt.Fprintf(&b, "  - path: %s\n    outbox: %s\n    archive: %s\n    failed: %s\n",
		q(def(c.inbox, ws.inbox)), q(def(c.outbox, ws.outbox)), q(ws.archive), q(ws.failed))
	fmt.Fprintf(&b, "    stable_for: 0s\n    settle: 300ms\n    rescan_interval: 1s\n")
	fmt.Fprintf(&b, "log:\n  level: %s\n  console: json\n", def(c.logLevel, "info"))
	if c.logFile != "" {
		fmt.Fprintf(&b, "  file: %s\n", q(c.logFile))
	}
	path := filepath.Join(ws.root, "config.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// readReports reads and validates every report in outbox, by file name.
func readReports(t *testing.T, outbox string) map[string]report.Report {
	t.Helper()
	entries, err := os.ReadDir(outbox)
	if err != nil {
		t.Fatalf("read the outbox: %v", err)
	}
	out := map[string]report.Report{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(outbox, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := report.Validate(data); err != nil {
			t.Errorf("report %s does not validate: %v\n%s", e.Name(), err, data)
		}
		var r report.Report
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatalf("report %s: %v", e.Name(), err)
		}
		out[e.Name()] = r
	}
	return out
}

// issueClientCert signs a client certificate with the simulator's CA, valid
// from notBefore to notAfter, and writes it and its key to a temporary
// folder.
func issueClientCert(t *testing.T, sim *flinkssim.Sim, notBefore, notAfter time.Time) (certFile, keyFile string) {
	t.Helper()
	caCert := readPEMCert(t, sim.Certs().CAFile)
	caKeyPEM, err := os.ReadFile(filepath.Join(sim.Dir(), "ca.key"))
	if err != nil {
		t.Fatalf("read the simulator's CA key: %v", err)
	}
	blk, _ := pem.Decode(caKeyPEM)
	if blk == nil {
		t.Fatal("the simulator's CA key is not PEM")
	}
	caKey, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatalf("parse the simulator's CA key: %v", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: flinkssim.DefaultClientID},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func readPEMCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(data)
	if blk == nil {
		t.Fatalf("%s is not PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return c
}
