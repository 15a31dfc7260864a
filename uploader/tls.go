package uploader

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/flinkdrop/flinkdrop/internal/clock"
	"github.com/flinkdrop/flinkdrop/internal/secret"
)

// TLSFiles names the client certificate and the extra server roots. Either
// CertFile and KeyFile (PEM) or PFXFile (+ PFXPassword) is set.
type TLSFiles struct {
	CertFile    string
	KeyFile     string
	PFXFile     string
	PFXPassword secret.Value
	// CAFile holds extra PEM roots trusted for the server, added to the
	// system pool. Empty: system roots only.
	CAFile string
}

// reloadCheckEvery is how often, on the injected clock, the certificate
// files are stat'ed to see whether they were renewed.
const reloadCheckEvery = 2 * time.Second

// LoadCertificate reads the client certificate and key named by files and
// checks them against the current time. Errors name the file, the fault and
// the fix.
func LoadCertificate(files TLSFiles) (tls.Certificate, CertInfo, error) {
	return LoadCertificateAt(files, time.Now())
}

// LoadCertificateAt is LoadCertificate with the validity period checked
// against now.
func LoadCertificateAt(files TLSFiles, now time.Time) (tls.Certificate, CertInfo, error) {
	var (
		cert tls.Certificate
		err  error
		file = "flinks.tls.cert_file " + files.CertFile
	)
	switch {
	case files.PFXFile != "" && (files.CertFile != "" || files.KeyFile != ""):
		return tls.Certificate{}, CertInfo{}, fmt.Errorf("%w: both flinks.tls.pfx_file and flinks.tls.cert_file/key_file are set (set only one of them)", ErrNoCertificate)
	case files.PFXFile != "":
		file = "flinks.tls.pfx_file " + files.PFXFile
		cert, err = loadPFX(files.PFXFile, files.PFXPassword)
	case files.CertFile != "" && files.KeyFile != "":
		cert, err = loadPEM(files.CertFile, files.KeyFile)
	case files.CertFile != "":
		return tls.Certificate{}, CertInfo{}, fmt.Errorf("%w: flinks.tls.key_file is empty (set it to the private key you generated the certificate request with)", ErrNoCertificate)
	case files.KeyFile != "":
		return tls.Certificate{}, CertInfo{}, fmt.Errorf("%w: flinks.tls.cert_file is empty (set flinks.tls.cert_file to the certificate Flinks issued)", ErrNoCertificate)
	default:
		return tls.Certificate{}, CertInfo{}, fmt.Errorf("%w (set flinks.tls.cert_file and flinks.tls.key_file, or flinks.tls.pfx_file)", ErrNoCertificate)
	}
	if err != nil {
		return tls.Certificate{}, CertInfo{}, err
	}
	leaf := cert.Leaf
	info := CertInfo{
		Subject:   leaf.Subject.String(),
		Issuer:    leaf.Issuer.String(),
		NotBefore: leaf.NotBefore,
		NotAfter:  leaf.NotAfter,
	}
	if now.After(leaf.NotAfter) {
		return tls.Certificate{}, info, fmt.Errorf("%s: %w on %s (ask Flinks for a renewed certificate and replace the file; it is picked up without a restart)",
			file, ErrCertificateExpired, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return tls.Certificate{}, info, fmt.Errorf("%s: %w until %s (check this machine's clock, or keep the previous certificate until then)",
			file, ErrCertificateNotYetValid, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return cert, info, nil
}

// readConfigFile reads a file named by a config key, with an error that
// names the key, the file and the fix.
func readConfigFile(key, path, fix string) ([]byte, error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s %s: no such file (%s): %w", key, path, fix, err)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("%s %s: permission denied (let the service user read it): %w", key, path, err)
	case err != nil:
		return nil, fmt.Errorf("%s %s: cannot read (%s): %w", key, path, fix, err)
	}
	return data, nil
}

const (
	fixCert = "set flinks.tls.cert_file to the certificate Flinks issued"
	fixKey  = "set flinks.tls.key_file to the private key you generated the certificate request with"
	fixPFX  = "set flinks.tls.pfx_file to the PKCS#12 file holding the certificate Flinks issued and its key"
	fixCA   = "set flinks.tls.ca_file to the CA certificate that signed the server's certificate, or leave it empty for the system roots"
)

func loadPEM(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := readConfigFile("flinks.tls.cert_file", certFile, fixCert)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := readConfigFile("flinks.tls.key_file", keyFile, fixKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	var chain [][]byte
	var other []string
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			chain = append(chain, b.Bytes)
		} else {
			other = append(other, b.Type)
		}
	}
	if len(chain) == 0 {
		key := "flinks.tls.cert_file " + certFile
		switch {
		case containsType(other, "CERTIFICATE REQUEST"), containsType(other, "NEW CERTIFICATE REQUEST"):
			return tls.Certificate{}, fmt.Errorf("%s: is a certificate signing request, not a certificate (%s, not the CSR)", key, fixCert)
		case len(other) > 0:
			return tls.Certificate{}, fmt.Errorf("%s: holds %s, no CERTIFICATE (%s)", key, strings.Join(other, ", "), fixCert)
		}
		return tls.Certificate{}, fmt.Errorf("%s: %w: no \"-----BEGIN CERTIFICATE-----\" block (%s; a DER or PFX file must be converted or set as pfx_file)", key, ErrNotPEM, fixCert)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("flinks.tls.cert_file %s: not a valid certificate (%s): %w", certFile, fixCert, err)
	}
	priv, err := parseKeyPEM(keyFile, keyPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	if !keyMatches(priv, leaf) {
		return tls.Certificate{}, fmt.Errorf("flinks.tls.key_file %s: %w in flinks.tls.cert_file %s (%s)", keyFile, ErrKeyMismatch, certFile, fixKey)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: priv, Leaf: leaf}, nil
}

func containsType(types []string, t string) bool {
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}

func parseKeyPEM(keyFile string, keyPEM []byte) (crypto.Signer, error) {
	key := "flinks.tls.key_file " + keyFile
	var seen []string
	for rest := keyPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			priv, err := parsePrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: not a valid private key (%s): %w", key, fixKey, err)
			}
			return priv, nil
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("%s: the private key is encrypted (decrypt it with `openssl pkey -in KEY -out KEY.plain`, or use a pfx_file with a password)", key)
		default:
			seen = append(seen, b.Type)
		}
	}
	if len(seen) > 0 {
		return nil, fmt.Errorf("%s: holds %s, no PRIVATE KEY (%s)", key, strings.Join(seen, ", "), fixKey)
	}
	return nil, fmt.Errorf("%s: %w: no \"-----BEGIN PRIVATE KEY-----\" block (%s)", key, ErrNotPEM, fixKey)
}

func parsePrivateKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported key type %T", k)
		}
		return s, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("not PKCS#8, PKCS#1 or SEC 1")
}

// keyMatches reports whether priv is the key of leaf.
func keyMatches(priv any, leaf *x509.Certificate) bool {
	var pub crypto.PublicKey
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		pub = &k.PublicKey
	case *ecdsa.PrivateKey:
		pub = &k.PublicKey
	case ed25519.PrivateKey:
		pub = k.Public()
	default:
		return false
	}
	eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(leaf.PublicKey)
}

func loadPFX(pfxFile string, password secret.Value) (tls.Certificate, error) {
	data, err := readConfigFile("flinks.tls.pfx_file", pfxFile, fixPFX)
	if err != nil {
		return tls.Certificate{}, err
	}
	key := "flinks.tls.pfx_file " + pfxFile
	priv, leaf, cas, err := pkcs12.DecodeChain(data, password.Reveal())
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword):
		return tls.Certificate{}, fmt.Errorf("%s: %w (set flinks.tls.pfx_password to the password the file was exported with)", key, ErrWrongPassword)
	case err != nil:
		if b, _ := pem.Decode(data); b != nil {
			return tls.Certificate{}, fmt.Errorf("%s: is a PEM file, not PKCS#12 (set it as flinks.tls.cert_file/key_file instead)", key)
		}
		// The library's message never contains the password.
		return tls.Certificate{}, fmt.Errorf("%s: not a readable PKCS#12 file (%s): %v", key, fixPFX, err)
	}
	if leaf == nil || priv == nil {
		return tls.Certificate{}, fmt.Errorf("%s: holds no certificate and key (%s)", key, fixPFX)
	}
	if !keyMatches(priv, leaf) {
		return tls.Certificate{}, fmt.Errorf("%s: %w (%s)", key, ErrKeyMismatch, fixPFX)
	}
	chain := [][]byte{leaf.Raw}
	for _, ca := range cas {
		chain = append(chain, ca.Raw)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: priv, Leaf: leaf}, nil
}

// loadRoots returns the system pool plus the certificates in caFile.
func loadRoots(caFile string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile == "" {
		return pool, nil
	}
	data, err := readConfigFile("flinks.tls.ca_file", caFile, fixCA)
	if err != nil {
		return nil, err
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("flinks.tls.ca_file %s: %w: no \"-----BEGIN CERTIFICATE-----\" block (%s)", caFile, ErrNotPEM, fixCA)
	}
	return pool, nil
}

// fileStamp is what tells a renewed file from the loaded one.
type fileStamp struct {
	path    string
	size    int64
	modTime time.Time
	missing bool
}

func stampFiles(files TLSFiles) []fileStamp {
	var paths []string
	if files.PFXFile != "" {
		paths = []string{files.PFXFile}
	} else {
		paths = []string{files.CertFile, files.KeyFile}
	}
	stamps := make([]fileStamp, 0, len(paths))
	for _, p := range paths {
		st := fileStamp{path: p}
		if fi, err := os.Stat(p); err != nil {
			st.missing = true
		} else {
			st.size, st.modTime = fi.Size(), fi.ModTime()
		}
		stamps = append(stamps, st)
	}
	return stamps
}

func sameStamps(a, b []fileStamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].path != b[i].path || a[i].size != b[i].size || !a[i].modTime.Equal(b[i].modTime) || a[i].missing != b[i].missing {
			return false
		}
	}
	return true
}

// certReloader holds the client certificate and reloads it when its files
// change on disk. A failed reload keeps the old certificate and is logged
// once per state of the files.
type certReloader struct {
	files TLSFiles
	clk   clock.Clock
	log   zerolog.Logger

	mu         sync.Mutex
	cert       *tls.Certificate
	info       CertInfo
	loaded     []fileStamp // the files as they were when cert was loaded
	failed     []fileStamp // the files as they were when a reload last failed
	lastCheck  time.Time
	reloadErr  error
	checkEvery time.Duration
}

func newCertReloader(files TLSFiles, clk clock.Clock, log zerolog.Logger) (*certReloader, error) {
	stamps := stampFiles(files)
	cert, info, err := LoadCertificateAt(files, clk.Now())
	if err != nil {
		return nil, err
	}
	return &certReloader{
		files:      files,
		clk:        clk,
		log:        log,
		cert:       &cert,
		info:       info,
		loaded:     stamps,
		lastCheck:  clk.Now(),
		checkEvery: reloadCheckEvery,
	}, nil
}

// current returns the certificate, reloading it first when the files
// changed and the last check is older than checkEvery.
func (r *certReloader) current() (*tls.Certificate, CertInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clk.Now()
	if now.Sub(r.lastCheck) < r.checkEvery && !now.Before(r.lastCheck) {
		return r.cert, r.info
	}
	r.lastCheck = now
	stamps := stampFiles(r.files)
	if sameStamps(stamps, r.loaded) || sameStamps(stamps, r.failed) {
		return r.cert, r.info
	}
	cert, info, err := LoadCertificateAt(r.files, now)
	if err != nil {
		// Logged once per state of the files: the next change tries again.
		r.failed = stamps
		r.reloadErr = err
		r.log.Warn().Err(err).Str("expires", r.info.NotAfter.UTC().Format(time.RFC3339)).
			Msg("client certificate files changed but do not load; still using the previous certificate")
		return r.cert, r.info
	}
	r.cert, r.info, r.loaded, r.failed, r.reloadErr = &cert, info, stamps, nil, nil
	r.log.Info().Str("subject", info.Subject).Str("not_after", info.NotAfter.UTC().Format(time.RFC3339)).
		Msg("client certificate reloaded")
	return r.cert, r.info
}

func (r *certReloader) getClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	cert, _ := r.current()
	return cert, nil
}
