package flinkssim

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// Certs are the files the simulator made (absolute paths).
type Certs struct {
	// CAFile is the simulator's CA: trust it for both servers. It also
	// issued the client certificate.
	CAFile string
	// ClientCertFile and ClientKeyFile are the client certificate (CN
	// sim-client) and its key, in PEM.
	ClientCertFile string
	ClientKeyFile  string
	// ClientPFXFile holds the same certificate and key in PKCS#12,
	// encrypted with PFXPassword (also written to PFXPasswordFile).
	ClientPFXFile   string
	PFXPassword     string
	PFXPasswordFile string
	// OtherCAFile is a second CA the servers do not trust; it issued
	// OtherCAClientCertFile/KeyFile, for negative tests.
	OtherCAFile           string
	OtherCAClientCertFile string
	OtherCAClientKeyFile  string
	// ServerCertFile and ServerKeyFile are the servers' certificate (for
	// 127.0.0.1, ::1 and localhost) and key.
	ServerCertFile string
	ServerKeyFile  string
}

// File names inside Options.Dir.
const (
	fileCA          = "ca.crt"
	fileCAKey       = "ca.key"
	fileServer      = "server.crt"
	fileServerKey   = "server.key"
	fileClient      = "client.crt"
	fileClientKey   = "client.key"
	fileClientPFX   = "client.pfx"
	filePFXPassword = "client.pfx.password"
	fileOtherCA     = "other-ca.crt"
	fileOtherCAKey  = "other-ca.key"
	fileOtherClient = "other-client.crt"
	fileOtherKey    = "other-client.key"
	// Certificates are renewed when they expire within this margin.
	renewMargin = 7 * 24 * time.Hour
)

// certSet is the loaded material the servers need.
type certSet struct {
	files  Certs
	server tls.Certificate
	caPool *x509.CertPool
}

func certPaths(dir string) Certs {
	j := func(name string) string { return filepath.Join(dir, name) }
	return Certs{
		CAFile:                j(fileCA),
		ClientCertFile:        j(fileClient),
		ClientKeyFile:         j(fileClientKey),
		ClientPFXFile:         j(fileClientPFX),
		PFXPasswordFile:       j(filePFXPassword),
		OtherCAFile:           j(fileOtherCA),
		OtherCAClientCertFile: j(fileOtherClient),
		OtherCAClientKeyFile:  j(fileOtherKey),
		ServerCertFile:        j(fileServer),
		ServerKeyFile:         j(fileServerKey),
	}
}

// loadOrMakeCerts reuses the certificates in dir when they are all present,
// consistent and valid for a while yet; otherwise it makes a new set.
// Certificate validity is checked against the wall clock, since that is what
// TLS peers check it against.
func loadOrMakeCerts(dir string, log zerolog.Logger) (*certSet, error) {
	now := time.Now()
	set, err := loadCerts(dir, now)
	if err == nil {
		log.Debug().Str("dir", dir).Msg("reusing simulator certificates")
		return set, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		log.Warn().Str("dir", dir).Err(err).Msg("simulator certificates unusable; making new ones")
	}
	if err := makeCerts(dir, now); err != nil {
		return nil, err
	}
	set, err = loadCerts(dir, now)
	if err != nil {
		return nil, fmt.Errorf("flinkssim: load the certificates just made in %s: %w", dir, err)
	}
	return set, nil
}

func loadCerts(dir string, now time.Time) (*certSet, error) {
	p := certPaths(dir)
	ca, err := loadPair(p.CAFile, filepath.Join(dir, fileCAKey), now)
	if err != nil {
		return nil, err
	}
	otherCA, err := loadPair(p.OtherCAFile, filepath.Join(dir, fileOtherCAKey), now)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)
	otherPool := x509.NewCertPool()
	otherPool.AddCert(otherCA.Leaf)

	server, err := loadPair(p.ServerCertFile, p.ServerKeyFile, now)
	if err != nil {
		return nil, err
	}
	if _, err := server.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1", CurrentTime: now}); err != nil {
		return nil, fmt.Errorf("server certificate %s: %w", p.ServerCertFile, err)
	}
	client, err := loadPair(p.ClientCertFile, p.ClientKeyFile, now)
	if err != nil {
		return nil, err
	}
	clientOpts := x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := client.Leaf.Verify(clientOpts); err != nil {
		return nil, fmt.Errorf("client certificate %s: %w", p.ClientCertFile, err)
	}
	other, err := loadPair(p.OtherCAClientCertFile, p.OtherCAClientKeyFile, now)
	if err != nil {
		return nil, err
	}
	clientOpts.Roots = otherPool
	if _, err := other.Leaf.Verify(clientOpts); err != nil {
		return nil, fmt.Errorf("other client certificate %s: %w", p.OtherCAClientCertFile, err)
	}

	pw, err := os.ReadFile(p.PFXPasswordFile)
	if err != nil {
		return nil, err
	}
	p.PFXPassword = string(bytes.TrimSpace(pw))
	pfx, err := os.ReadFile(p.ClientPFXFile)
	if err != nil {
		return nil, err
	}
	_, pfxCert, _, err := pkcs12.DecodeChain(pfx, p.PFXPassword)
	if err != nil {
		return nil, fmt.Errorf("client PFX %s: %w", p.ClientPFXFile, err)
	}
	if !pfxCert.Equal(client.Leaf) {
		return nil, fmt.Errorf("client PFX %s holds another certificate than %s", p.ClientPFXFile, p.ClientCertFile)
	}
	return &certSet{files: p, server: server, caPool: pool}, nil
}

// loadPair loads a PEM certificate and key and checks that they match and
// that the certificate is valid beyond the renewal margin.
func loadPair(certFile, keyFile string, now time.Time) (tls.Certificate, error) {
	if _, err := os.Stat(certFile); err != nil {
		return tls.Certificate{}, err
	}
	if _, err := os.Stat(keyFile); err != nil {
		return tls.Certificate{}, err
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load %s and %s: %w", certFile, keyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("parse %s: %w", certFile, err)
		}
		pair.Leaf = leaf
	}
	if now.Before(leaf.NotBefore) || now.Add(renewMargin).After(leaf.NotAfter) {
		return tls.Certificate{}, fmt.Errorf("%s is valid from %s to %s only", certFile,
			leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339))
	}
	return pair, nil
}

type issued struct {
	cert *x509.Certificate
	der  []byte
	key  *ecdsa.PrivateKey
}

func makeCerts(dir string, now time.Time) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("flinkssim: create the certificate folder %s: %w", dir, err)
	}
	p := certPaths(dir)
	ca, err := issue(nil, now, caTemplate("flinkdrop simulator CA"))
	if err != nil {
		return err
	}
	otherCA, err := issue(nil, now, caTemplate("flinkdrop simulator other CA (untrusted)"))
	if err != nil {
		return err
	}
	serverTmpl := leafTemplate("flinkdrop simulator server", x509.ExtKeyUsageServerAuth)
	serverTmpl.DNSNames = []string{"localhost"}
	serverTmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	server, err := issue(ca, now, serverTmpl)
	if err != nil {
		return err
	}
	client, err := issue(ca, now, leafTemplate("sim-client", x509.ExtKeyUsageClientAuth))
	if err != nil {
		return err
	}
	other, err := issue(otherCA, now, leafTemplate("sim-client", x509.ExtKeyUsageClientAuth))
	if err != nil {
		return err
	}
	password, err := randomHex(16)
	if err != nil {
		return err
	}
	pfx, err := pkcs12.Modern.Encode(client.key, client.cert, []*x509.Certificate{ca.cert}, password)
	if err != nil {
		return fmt.Errorf("flinkssim: encode the client PFX: %w", err)
	}
	writes := []struct {
		path string
		data []byte
	}{
		{filepath.Join(dir, fileCAKey), keyPEM(ca.key)},
		{p.CAFile, certPEM(ca.der)},
		{filepath.Join(dir, fileOtherCAKey), keyPEM(otherCA.key)},
		{p.OtherCAFile, certPEM(otherCA.der)},
		{p.ServerKeyFile, keyPEM(server.key)},
		{p.ServerCertFile, certPEM(server.der)},
		{p.ClientKeyFile, keyPEM(client.key)},
		{p.ClientCertFile, certPEM(client.der)},
		{p.OtherCAClientKeyFile, keyPEM(other.key)},
		{p.OtherCAClientCertFile, certPEM(other.der)},
		{p.PFXPasswordFile, []byte(password + "\n")},
		{p.ClientPFXFile, pfx},
	}
	for _, w := range writes {
		if err := writeFile0600(w.path, w.data); err != nil {
			return err
		}
	}
	return nil
}

func caTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"flinkdrop simulator"}},
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

func leafTemplate(cn string, usage x509.ExtKeyUsage) *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn, Organization: []string{"flinkdrop simulator"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
}

// issue signs tmpl with parent, or self-signs it when parent is nil. CAs
// last ten years, leaves two.
func issue(parent *issued, now time.Time, tmpl *x509.Certificate) (*issued, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("flinkssim: generate a key for %s: %w", tmpl.Subject.CommonName, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("flinkssim: serial number: %w", err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = now.Add(-time.Hour)
	tmpl.NotAfter = now.AddDate(2, 0, 0)
	if tmpl.IsCA {
		tmpl.NotAfter = now.AddDate(10, 0, 0)
	}
	signer, signerCert := crypto.Signer(key), tmpl
	if parent != nil {
		signer, signerCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("flinkssim: sign the certificate for %s: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("flinkssim: parse the certificate for %s: %w", tmpl.Subject.CommonName, err)
	}
	return &issued{cert: cert, der: der, key: key}, nil
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func keyPEM(key *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		// A P-256 key always marshals.
		panic(fmt.Sprintf("flinkssim: marshal a P-256 key: %v", err))
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// writeFile0600 writes data to path readable by the owner only (os.CreateTemp
// makes files 0600), through a temporary file so a reader never sees half
// of it.
func writeFile0600(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("flinkssim: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("flinkssim: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("flinkssim: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("flinkssim: write %s: %w", path, err)
	}
	return nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("flinkssim: random bytes: %w", err)
	}
	return hex.EncodeToString(b), nil
}
