package uploader

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/clock"
	"github.com/flinkdrop/flinkdrop/internal/secret"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
)

// makePFX exports certFile+keyFile exactly as the Flinks guide shows, with
// OpenSSL's default (OpenSSL 3: AES-256/PBKDF2) encryption.
func makePFX(t *testing.T, dir, certFile, keyFile, password string) string {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not on PATH: cannot make an OpenSSL-default PFX")
	}
	out := filepath.Join(dir, "certificate-and-key.pfx")
	cmd := exec.Command("openssl", "pkcs12", "-export", "-in", certFile, "-inkey", keyFile, "-out", out, "-passout", "pass:"+password)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl pkcs12 -export: %v\n%s", err, b)
	}
	return out
}

func TestLoadCertificateOpenSSLPFX(t *testing.T) {
	p := newPKI(t)
	pfx := makePFX(t, p.dir, p.clientCert, p.clientKey, "xyz")
	cert, info, err := LoadCertificateAt(TLSFiles{PFXFile: pfx, PFXPassword: secret.New("xyz")}, testStart)
	if err != nil {
		t.Fatalf("LoadCertificateAt(openssl pfx) = %v, want nil", err)
	}
	if got, want := info.Subject, "CN=client"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	if got, want := info.Issuer, "CN=flinks"; got != want {
		t.Errorf("Issuer = %q, want %q", got, want)
	}
	if cert.PrivateKey == nil || len(cert.Certificate) == 0 {
		t.Errorf("certificate has no key or chain: %d certs", len(cert.Certificate))
	}
}

func TestLoadCertificateErrors(t *testing.T) {
	p := newPKI(t)
	dir := p.dir
	garbage := filepath.Join(dir, "garbage.txt")
	testutil.WriteFile(t, garbage, []byte("this is not a certificate\n"))
	expiredCert, expiredKey := p.ca.issue(t, dir, leafOpts{cn: "expired", notBefore: testStart.Add(-48 * time.Hour), notAfter: testStart.Add(-time.Hour)})
	futureCert, futureKey := p.ca.issue(t, dir, leafOpts{cn: "future", notBefore: testStart.Add(time.Hour), notAfter: testStart.Add(48 * time.Hour)})
	csr := filepath.Join(dir, "client.csr")
	testutil.WriteFile(t, csr, makeCSR(t))
	pfx := makePFX(t, dir, p.clientCert, p.clientKey, "xyz")
	missing := filepath.Join(dir, "missing.crt")

	tests := []struct {
		name     string
		files    TLSFiles
		is       error
		contains []string
	}{
		{"no such cert", TLSFiles{CertFile: missing, KeyFile: p.clientKey}, fs.ErrNotExist,
			[]string{"flinks.tls.cert_file " + missing + ": no such file", "set flinks.tls.cert_file to the certificate Flinks issued"}},
		{"no such key", TLSFiles{CertFile: p.clientCert, KeyFile: missing}, fs.ErrNotExist,
			[]string{"flinks.tls.key_file " + missing + ": no such file"}},
		{"cert not PEM", TLSFiles{CertFile: garbage, KeyFile: p.clientKey}, ErrNotPEM,
			[]string{"flinks.tls.cert_file " + garbage, "not PEM", "set flinks.tls.cert_file"}},
		{"cert is a key", TLSFiles{CertFile: p.clientKey, KeyFile: p.clientKey}, nil,
			[]string{"holds PRIVATE KEY, no CERTIFICATE"}},
		{"cert is the CSR", TLSFiles{CertFile: csr, KeyFile: p.clientKey}, nil,
			[]string{"certificate signing request, not a certificate", "not the CSR"}},
		{"key not PEM", TLSFiles{CertFile: p.clientCert, KeyFile: garbage}, ErrNotPEM,
			[]string{"flinks.tls.key_file " + garbage, "set flinks.tls.key_file"}},
		{"key does not match", TLSFiles{CertFile: p.clientCert, KeyFile: p.otherKey}, ErrKeyMismatch,
			[]string{"flinks.tls.key_file " + p.otherKey, "does not match the certificate", p.clientCert}},
		{"expired", TLSFiles{CertFile: expiredCert, KeyFile: expiredKey}, ErrCertificateExpired,
			[]string{"flinks.tls.cert_file " + expiredCert, "expired on", "renewed certificate"}},
		{"not yet valid", TLSFiles{CertFile: futureCert, KeyFile: futureKey}, ErrCertificateNotYetValid,
			[]string{"flinks.tls.cert_file " + futureCert, "not yet valid until", "clock"}},
		{"wrong PFX password", TLSFiles{PFXFile: pfx, PFXPassword: secret.New("wrong-pw")}, ErrWrongPassword,
			[]string{"flinks.tls.pfx_file " + pfx, "set flinks.tls.pfx_password"}},
		{"PFX is PEM", TLSFiles{PFXFile: p.clientCert, PFXPassword: secret.New("xyz")}, nil,
			[]string{"is a PEM file, not PKCS#12"}},
		{"PFX garbage", TLSFiles{PFXFile: garbage, PFXPassword: secret.New("xyz")}, nil,
			[]string{"not a readable PKCS#12 file"}},
		{"nothing configured", TLSFiles{}, ErrNoCertificate, []string{"set flinks.tls.cert_file and flinks.tls.key_file, or flinks.tls.pfx_file"}},
		{"cert without key", TLSFiles{CertFile: p.clientCert}, ErrNoCertificate, []string{"flinks.tls.key_file is empty"}},
		{"both PEM and PFX", TLSFiles{CertFile: p.clientCert, KeyFile: p.clientKey, PFXFile: pfx}, ErrNoCertificate, []string{"set only one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := LoadCertificateAt(tt.files, testStart)
			if err == nil {
				t.Fatalf("LoadCertificateAt(%+v) = nil error, want one", tt.files)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("LoadCertificateAt error %q: errors.Is(%v) = false, want true", err, tt.is)
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("LoadCertificateAt error %q does not contain %q", err, s)
				}
			}
			for _, pw := range []string{"wrong-pw", "xyz"} {
				if strings.Contains(err.Error(), pw) {
					t.Errorf("LoadCertificateAt error %q shows the password", err)
				}
			}
		})
	}
}

func makeCSR(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "client"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestNewChecksValidityOnInjectedClock(t *testing.T) {
	f := newFakeFlinks(t)
	tests := []struct {
		name string
		at   time.Time
		want error
	}{
		{"after NotAfter", testStart.Add(13 * time.Hour), ErrCertificateExpired},
		{"before NotBefore", testStart.Add(-2 * time.Hour), ErrCertificateNotYetValid},
		{"inside", testStart, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := f.options()
			o.Clock = clock.NewFake(tt.at)
			c, err := New(o)
			if c != nil {
				c.Close()
			}
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("New at %v = %v, want %v", tt.at, err, tt.want)
			}
			if err != nil {
				wantKind(t, "New", err, Credentials)
			}
		})
	}
}

func TestNewCAFileErrors(t *testing.T) {
	f := newFakeFlinks(t)
	missing := filepath.Join(t.TempDir(), "ca.pem")
	garbage := tempFile(t, "ca.txt", []byte("nope"))
	tests := []struct {
		name, ca string
		contains string
	}{
		{"missing", missing, "flinks.tls.ca_file " + missing + ": no such file"},
		{"not PEM", garbage, "flinks.tls.ca_file " + garbage + ": not PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := f.options()
			o.TLS.CAFile = tt.ca
			_, err := New(o)
			if err == nil || !strings.Contains(err.Error(), tt.contains) {
				t.Fatalf("New with ca_file %s = %v, want an error containing %q", tt.ca, err, tt.contains)
			}
		})
	}
}

func TestPFXClientAgainstServer(t *testing.T) {
	f := newFakeFlinks(t)
	pfx := makePFX(t, t.TempDir(), f.pki.clientCert, f.pki.clientKey, "xyz")
	c := newTestClient(t, f, func(o *Options) {
		o.TLS = TLSFiles{PFXFile: pfx, PFXPassword: secret.New("xyz"), CAFile: f.pki.ca.file}
	})
	if err := c.Token(context.Background()); err != nil {
		t.Fatalf("Token with an OpenSSL PFX = %v, want nil", err)
	}
}

func TestCertificateReload(t *testing.T) {
	f := newFakeFlinks(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	copyFile(t, f.pki.clientCert, certFile)
	copyFile(t, f.pki.clientKey, keyFile)
	clk := clock.NewFake(testStart)
	var logBuf testutil.SyncBuffer
	c := newTestClient(t, f, func(o *Options) {
		o.Clock = clk
		o.TLS.CertFile, o.TLS.KeyFile = certFile, keyFile
		o.Log = zerolog.New(&logBuf)
	})
	ctx := context.Background()
	if err := c.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Certificate(); got.Subject != "CN=client" {
		t.Fatalf("Certificate().Subject = %q, want CN=client", got.Subject)
	}

	// The certificate is renewed on disk.
	renewedCert, renewedKey := f.pki.ca.issue(t, t.TempDir(), leafOpts{cn: "renewed"})
	copyFile(t, renewedCert, certFile)
	copyFile(t, renewedKey, keyFile)
	touch(t, testStart.Add(time.Minute), certFile, keyFile)
	clk.Advance(reloadCheckEvery + time.Second)
	if got, _ := c.Certificate(); got.Subject != "CN=renewed" {
		t.Fatalf("after renewal Certificate().Subject = %q, want CN=renewed", got.Subject)
	}
	c.transport.CloseIdleConnections() // force a new handshake
	f.expireTokens()
	if err := c.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Complete(ctx, "nonexistent"); KindOf(err) != Rejected {
		t.Fatalf("Complete = %v, want Rejected", err)
	}
	f.mu.Lock()
	last := f.peerCNs[len(f.peerCNs)-1]
	f.mu.Unlock()
	if last != "renewed" {
		t.Errorf("server saw client certificate %q, want renewed", last)
	}

	// A broken renewal keeps the previous certificate and is logged once.
	testutil.WriteFile(t, keyFile, []byte("half-written"))
	touch(t, testStart.Add(2*time.Minute), keyFile)
	for range 3 {
		clk.Advance(reloadCheckEvery + time.Second)
		if got, _ := c.Certificate(); got.Subject != "CN=renewed" {
			t.Fatalf("after a broken renewal Certificate().Subject = %q, want CN=renewed", got.Subject)
		}
	}
	if got := strings.Count(logBuf.String(), "do not load"); got != 1 {
		t.Errorf("broken renewal logged %d times, want 1:\n%s", got, logBuf.String())
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, to, data)
}

func touch(t *testing.T, when time.Time, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoadCertificateOpenSSL3Fixture loads a PFX made on OpenSSL 3.0 with the
// guide's command (`openssl pkcs12 -export -in certificate.pem -inkey
// private-key.pem -out certificate-and-key.pfx -passout pass:xyz`: PBES2,
// PBKDF2, AES-256-CBC, SHA-256 MAC), checked in so that the test runs where
// openssl is not installed. The certificate is valid for 100 years from
// 2026-12-04.
func TestLoadCertificateOpenSSL3Fixture(t *testing.T) {
	pfx := filepath.Join("testdata", "openssl3-default.pfx")
	_, info, err := LoadCertificateAt(TLSFiles{PFXFile: pfx, PFXPassword: secret.New("xyz")}, testStart)
	if err != nil {
		t.Fatalf("LoadCertificateAt(%s) = %v, want nil", pfx, err)
	}
	if got, want := info.Subject, "CN=openssl3-fixture"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	_, _, err = LoadCertificateAt(TLSFiles{PFXFile: pfx, PFXPassword: secret.New("wrong")}, testStart)
	if !errors.Is(err, ErrWrongPassword) {
		t.Errorf("LoadCertificateAt(wrong password) = %v, want ErrWrongPassword", err)
	}
}
